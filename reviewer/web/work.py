"""The review of one upload, as it runs inside a worker process: bytes in, a response body out.

Nothing here writes to the disk: the document is parsed from memory (reviewer.parse.parse_bytes),
reviewed and rendered, and only the rendered result goes back. The network is used only by the
LLM engine, when one is configured, exactly as `review` uses it (without its answer cache).
Its outcome carries what may be logged about the document: size, type, hash and timings.
"""

from __future__ import annotations

import base64
import hashlib
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from typing import Literal
from urllib.parse import quote

from ..errors import LLMError, ParseError, ReviewerError, UsageError

Output = Literal["json", "page"]

# Types of data URL for the downloads offered on the report page.
_MEDIA = {"json": "application/json", "md": "text/markdown", "html": "text/html"}
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Job:
    data: bytes
    name: str  # the uploaded file's name, shown in the report; never used to decide the type
    kind: str | None = None
    lang: str | None = None  # report language; None = the document's
    engine: str = "auto"
    output: Output = "json"
    ui: str = "en"  # the form's language, for the link back to it


@dataclass
class Outcome:
    status: int  # HTTP status
    body: str = ""  # the JSON report or the HTML page when status is 200
    error: str = ""  # a one-line message for the user otherwise
    size: int = 0
    sha256: str = ""
    format: str = ""  # detected type (pdf, docx, md, txt), "" when refused
    pages: int | None = None
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    crash: str = ""  # for the log: exception type and where it was raised, never its message


def review_upload(job: Job) -> Outcome:
    """Parse, review and render one upload; every failure becomes a status and a message."""
    out = Outcome(status=200, size=len(job.data), sha256=hashlib.sha256(job.data).hexdigest())
    started = time.perf_counter()
    try:
        from ..parse import parse_bytes

        doc = parse_bytes(job.data, job.name)
        out.format, out.pages = doc.format, doc.pages
        parsed = time.perf_counter()
        out.timings["parse_ms"] = _ms(parsed - started)

        from ..review import review

        result = review(
            doc, kind=job.kind, lang=job.lang, engine=job.engine, llm_options=_llm_options(job)
        )
        reviewed = time.perf_counter()
        out.timings["review_ms"] = _ms(reviewed - parsed)
        out.body = _render(result, job)
        out.timings["render_ms"] = _ms(time.perf_counter() - reviewed)
    except ParseError as exc:
        out.status = 415 if unsupported_type(job.data) else 422
        out.error = f"{job.name}: {exc.reason}"
    except UsageError as exc:
        out.status, out.error = 400, str(exc)
    except LLMError as exc:  # the model endpoint refused (key, quota, model): not the user's file
        out.status, out.error = 502, str(exc)
    except MemoryError:
        out.status, out.error = 422, f"{job.name}: the document needs more memory than allowed"
    except ReviewerError as exc:  # the server's own rubric or configuration
        out.status, out.error = 500, str(exc)
        out.crash = _where(exc)
    except Exception as exc:  # a bug: the user gets a line, the log gets the type and place
        out.status, out.error = 500, "the review failed on the server; the error has been logged"
        out.crash = _where(exc)
    out.timings["work_ms"] = _ms(time.perf_counter() - started)
    return out


_WARM_UP = """# PoC計画書

## 目的
請求センターの一次回答に平均20分かかっている。生成AIで回答案を作り、担当者が確認して送る。

## KPI
| 指標 | 現状 | 目標 | 測定方法 |
|---|---|---|---|
| 一次回答時間 | 20分 | 5分 | 業務システムのログ |

## Exit criteria
The steering committee decides go/no-go on 2026-09-30: adoption rate at least 70%.
"""


def warm_up() -> None:
    """Load the rubric, the parsers and the matchers before the first upload arrives."""
    from ..parse import docx, pdf  # noqa: F401

    outcome = review_upload(
        Job(data=_WARM_UP.encode("utf-8"), name="warm-up.md", engine="rules", output="page")
    )
    if outcome.status != 200:
        raise RuntimeError(f"the warm-up review failed: {outcome.error} {outcome.crash}")
    # From here on an upload that allocates without end fails with MemoryError (a 422) in this
    # worker instead of taking the machine's memory.
    from .. import config
    from ..sandbox import limit_memory

    limit_memory(config.parse_memory_mb())


def _llm_options(job: Job):
    """For the LLM engine: the endpoint from the environment, and no answer cache (answers
    quote the document, and a web upload leaves nothing on disk)."""
    from .. import config

    if job.engine == "llm" or (job.engine == "auto" and config.llm_configured()):
        from ..llm import LLMOptions

        return LLMOptions.from_env(use_cache=False)
    return None


def unsupported_type(data: bytes) -> bool:
    """Whether a ParseError means "this kind of file is not supported" (415) rather than
    "this document cannot be read" (422: empty, corrupt, encrypted, no text).

    Decided by content only: a type refused by sniff() is unsupported, unless the bytes are
    empty or a damaged or password-protected document container.
    """
    from ..parse import sniff

    try:
        sniff(data)
    except ParseError:
        pass
    else:
        return False  # a PDF, DOCX or text that could not be read
    if not data.lstrip(b"\xef\xbb\xbf").strip():
        return False  # empty
    if data.startswith(_OLE2) and "EncryptedPackage".encode("utf-16-le") in data:
        return False  # a password-protected .docx is an encrypted document
    # a damaged zip is most likely a truncated .docx; a readable one holds another format
    return not (data.startswith(b"PK") and not zipfile.is_zipfile(BytesIO(data)))


def _render(result, job: Job) -> str:
    from ..report import render

    if job.output == "json":
        return render(result, "json")
    from ..report.html import Link
    from . import strings

    lang = result.lang
    files = {fmt: render(result, fmt, lang=lang) for fmt in ("json", "md", "html")}
    text = strings.table(lang)
    links = [Link(text["new_review"], f"/?lang={quote(job.ui)}")] + [
        Link(text[f"download_{fmt}"], _data_url(body, _MEDIA[fmt]), f"{job.name}.{fmt}")
        for fmt, body in files.items()
    ]
    return render(result, "html", lang=lang, links=links)


def _data_url(body: str, media: str) -> str:
    encoded = base64.b64encode(body.encode("utf-8")).decode("ascii")
    return f"data:{media};charset=utf-8;base64,{encoded}"


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    place = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{place}"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
