"""The web form and the JSON API (FastAPI): upload one document, read the same review as the CLI.

GET /             the upload form (Japanese or English; works without JavaScript)
POST /review      the form's target: the HTML report, with downloads of this review
POST /api/review  the JSON report (the CLI's --format json), multipart field `file`
GET /healthz      liveness; /docs and /openapi.json describe the API

Uploads are read into memory (multipart.read_form), reviewed in a worker process
(pool.WorkerPool running work.review_upload) and forgotten: nothing of a document is written or
logged. The log line per review holds its size, detected type, SHA-256 and timings.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__, config
from ..errors import UsageError
from ..models import DOCUMENT_KINDS
from ..report.html import style_hash
from ..report.labels import strings as report_strings
from . import strings
from .guard import BodyLimit, Deadline, Scope, SecurityHeaders, TokenAuth, is_api
from .multipart import FileTooLarge, FormError, read_form
from .pool import WorkerCrashed, WorkerPool
from .work import Job, Outcome

log = logging.getLogger("reviewer.web")

FORM_FIELDS = ("kind", "lang", "engine")
# Room for the form's own bytes (boundaries, part headers, the small fields) above the file limit.
FORM_OVERHEAD_BYTES = 64 * 1024
_STATIC = os.path.join(os.path.dirname(__file__), "static")


@dataclass(frozen=True)
class Settings:
    max_upload_mb: float = 20.0  # REVIEWER_MAX_UPLOAD_MB
    deadline_s: float = 60.0  # REVIEWER_DEADLINE_S
    token: str | None = None  # REVIEWER_TOKEN
    workers: int = 0  # REVIEWER_WORKERS; 0 = one per core

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            max_upload_mb=_positive("REVIEWER_MAX_UPLOAD_MB", cls.max_upload_mb),
            deadline_s=_positive("REVIEWER_DEADLINE_S", cls.deadline_s),
            token=os.environ.get("REVIEWER_TOKEN") or None,
            workers=int(_positive("REVIEWER_WORKERS", os.cpu_count() or 1)),
        )

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def limit_label(self) -> str:
        return f"{self.max_upload_mb:g} MB"

    @property
    def pool_size(self) -> int:
        return self.workers or os.cpu_count() or 1


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise UsageError(f"{name}={raw!r}: expected a positive number")
    return value


class ApiError(BaseModel):
    error: str


# ---------------------------------------------------------------- pages and errors


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("reviewer.web", "templates"),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _ui(scope: Scope) -> str:
    """The page language: ?ui= (form posts) or ?lang= (the form), else Accept-Language."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    asked = (query.get("ui") or query.get("lang") or [None])[0]
    accept = next(
        (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept-language"), None
    )
    return strings.ui_language(asked, accept)


def _page(template: str, ui: str, code: int = 200, **values: Any) -> HTMLResponse:
    html = (
        _templates()
        .get_template(template)
        .render(t=strings.table(ui), ui=ui, other="en" if ui == "ja" else "ja", **values)
    )
    return HTMLResponse(html, status_code=code)


def error_response(scope: Scope, status: int, detail: str, settings: Settings) -> Response:
    """The JSON error for the API, an HTML page with a way back for the form."""
    if is_api(scope):
        return JSONResponse({"error": detail}, status_code=status)
    ui = _ui(scope)
    t = strings.table(ui)
    hint = t.get(f"hint_{status}", "").format(
        max=f"{settings.max_upload_mb:g}", deadline=f"{settings.deadline_s:g}"
    )
    return _page(
        "error.html.j2",
        ui,
        status,
        status=status,
        headline=t.get(f"error_{status}", t["error_title"]),
        detail=detail,
        hint=hint,
    )


# ---------------------------------------------------------------- the review step


async def run_review(pool: WorkerPool, job: Job) -> Outcome:
    """The one place a review leaves the event loop: a worker process parses, reviews and
    renders it. Cancelling this (the deadline) kills that process."""
    try:
        return await pool.run(job)
    except WorkerCrashed as exc:
        return Outcome(
            status=500,
            error="the review process stopped unexpectedly; the error has been logged",
            size=len(job.data),
            sha256=hashlib.sha256(job.data).hexdigest(),
            crash=f"worker died ({exc})",
        )


async def _upload(request: Request, settings: Settings, output: str, ui: str) -> Outcome:
    """Read the form, check its fields and run the review; bad forms raise FormError."""
    arrived = time.perf_counter()
    form = await read_form(
        request.headers.get("content-type", ""),
        request.stream(),
        file_field="file",
        fields=FORM_FIELDS,
        max_file_bytes=settings.max_file_bytes,
    )
    kind = form.fields.get("kind") or "auto"
    lang = form.fields.get("lang") or "auto"
    engine = form.fields.get("engine") or "auto"
    if kind != "auto" and kind not in DOCUMENT_KINDS:
        raise FormError(f"unknown kind {kind!r}; choose auto or one of {', '.join(DOCUMENT_KINDS)}")
    if lang != "auto" and lang not in config.REPORT_LANGUAGES:
        raise FormError(f"unknown report language {lang!r}; choose auto, ja or en")
    if engine not in config.ENGINES:
        raise FormError(f"unknown engine {engine!r}; choose one of {', '.join(config.ENGINES)}")
    assert form.file_data is not None and form.file_name is not None
    job = Job(
        data=form.file_data,
        name=form.file_name,
        kind=None if kind == "auto" else kind,
        lang=None if lang == "auto" else lang,
        engine=engine,
        output=output,  # type: ignore[arg-type]
        ui=ui,
    )
    read = time.perf_counter()
    outcome = await run_review(request.app.state.pool, job)
    done = time.perf_counter()
    timings = " ".join(f"{k}={v}" for k, v in outcome.timings.items())
    log.info(
        "review status=%d type=%s bytes=%d sha256=%s pages=%s upload_ms=%.1f total_ms=%.1f %s",
        outcome.status,
        outcome.format or "-",
        outcome.size,
        outcome.sha256,
        outcome.pages if outcome.pages is not None else "-",
        (read - arrived) * 1000,
        (done - arrived) * 1000,
        timings,
    )
    if outcome.crash:
        log.error("review failed sha256=%s: %s", outcome.sha256, outcome.crash)
    return outcome


# ---------------------------------------------------------------- the app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web form and API; settings from the environment unless given."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = WorkerPool(
            settings.pool_size, "reviewer.web.work:review_upload", "reviewer.web.work:warm_up"
        )
        await pool.start()
        app.state.pool = pool
        log.info(
            "ready workers=%d max_upload=%s deadline=%gs token=%s",
            pool.size,
            settings.limit_label,
            settings.deadline_s,
            "required" if settings.token else "off",
        )
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(
        title="reviewer",
        version=__version__,
        summary="Reviews an AI-adoption project document against the 14-criterion rubric.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings

    def errors(scope: Scope, status: int, detail: str) -> Response:
        return error_response(scope, status, detail, settings)

    # The last added runs first: headers on everything, then the token, the deadline and the
    # upload limit, all before the body is read.
    app.add_middleware(BodyLimit, max_bytes=settings.max_file_bytes + FORM_OVERHEAD_BYTES,
                       limit_label=settings.limit_label, errors=errors)  # fmt: skip
    app.add_middleware(Deadline, seconds=settings.deadline_s, errors=errors)
    app.add_middleware(TokenAuth, token=settings.token, errors=errors)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = errors(request.scope, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # Outside the header middleware: this answer carries the headers itself.
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
        response = errors(request.scope, 500, "internal error; it has been logged")
        SecurityHeaders.apply(response)
        return response

    app.mount("/static", StaticFiles(directory=_STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def form(request: Request) -> Response:
        ui = _ui(request.scope)
        return _page(
            "form.html.j2",
            ui,
            kinds=[(k, report_strings(ui).kind[k]) for k in DOCUMENT_KINDS],  # type: ignore[arg-type]
            languages=config.REPORT_LANGUAGES,
            engines=config.ENGINES if config.llm_configured() else (),
            max_mb=f"{settings.max_upload_mb:g}",
            max_bytes=settings.max_file_bytes,
        )

    @app.post("/review", response_class=HTMLResponse, include_in_schema=False)
    async def review_page(request: Request) -> Response:
        ui = _ui(request.scope)
        try:
            outcome = await _upload(request, settings, "page", ui)
        except FormError as exc:
            return errors(request.scope, 400, str(exc))
        except FileTooLarge:
            return errors(request.scope, 413, f"the file is larger than {settings.limit_label}")
        if outcome.status != 200:
            return errors(request.scope, outcome.status, outcome.error)
        csp = (
            "default-src 'self'; script-src 'self'; "
            f"style-src 'self' {style_hash(outcome.body)}; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        return HTMLResponse(
            outcome.body,
            headers={"content-security-policy": csp, "cache-control": "no-store"},
        )

    error_docs: dict[int | str, dict[str, Any]] = {
        status: {"model": ApiError, "description": text}
        for status, text in (
            (400, "The form is not as expected (no `file`, an unknown kind, language or engine)."),
            (401, "REVIEWER_TOKEN is set and no valid `Authorization: Bearer` was sent."),
            (413, "The upload is larger than REVIEWER_MAX_UPLOAD_MB (default 20 MB)."),
            (415, "The file's type (read from its content, not its name) is not supported."),
            (422, "The document cannot be read: empty, corrupt, encrypted, or no text."),
            (504, "The review did not finish within REVIEWER_DEADLINE_S (default 60 s)."),
        )
    }

    @app.post(
        "/api/review",
        summary="Review one document",
        description="Upload a PDF, DOCX, Markdown or text file as the multipart field `file`; "
        "the answer is the JSON report of `review FILE --format json` (schema_version 1).",
        responses={200: {"description": "The review (the CLI's JSON report)."}, **error_docs},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "kind": {
                                    "type": "string",
                                    "enum": ["auto", *DOCUMENT_KINDS],
                                    "default": "auto",
                                },
                                "engine": {
                                    "type": "string",
                                    "enum": list(config.ENGINES),
                                    "default": "auto",
                                },
                                "lang": {
                                    "type": "string",
                                    "enum": ["auto", *config.REPORT_LANGUAGES],
                                    "default": "auto",
                                    "description": "report language; auto = the document's",
                                },
                            },
                        }
                    }
                },
            }
        },  # fmt: skip
    )
    async def review_api(request: Request) -> Response:
        try:
            outcome = await _upload(request, settings, "json", "en")
        except FormError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except FileTooLarge:
            detail = f"the file is larger than {settings.limit_label}"
            return JSONResponse({"error": detail}, status_code=413)
        if outcome.status != 200:
            return JSONResponse({"error": outcome.error}, status_code=outcome.status)
        return Response(outcome.body, media_type="application/json")

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title="reviewer API"
        )
        return _with_inline_scripts_allowed(page)

    return app


_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def _with_inline_scripts_allowed(page: HTMLResponse) -> HTMLResponse:
    """FastAPI's Swagger UI page loads its assets from a CDN and starts with an inline script:
    allow exactly those, by hash, on this page only."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()}'"
        for m in _INLINE_SCRIPT.finditer(bytes(page.body))
    )
    cdn = "https://cdn.jsdelivr.net"
    page.headers["content-security-policy"] = (
        f"default-src 'self'; script-src 'self' {cdn} {hashes}; style-src 'self' {cdn}; "
        "img-src 'self' data: https://fastapi.tiangolo.com; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return page
