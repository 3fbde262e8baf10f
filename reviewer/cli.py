"""Command line: `review FILE...`, `review rubric`, `review serve`. Thin: it calls review() and a
renderer, or starts the web form."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from pathlib import Path

from . import __version__, config
from .config import ENGINES, REPORT_LANGUAGES
from .errors import ExitCode, LLMError, ReviewerError, UsageError
from .models import CRITERION_IDS, DOCUMENT_KINDS, ParseOptions
from .report import FORMATS

EXTENSIONS = {"text": "txt", "md": "md", "json": "json", "html": "html"}
_REQUIRE = re.compile(r"^\s*([A-Za-z]+)\s*>=\s*([0-3])\s*$")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, as for any unusable input
        raise UsageError(f"{message} (see review --help)")


def _review_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="review",
        description="Review AI-adoption project documents (PDF, DOCX, Markdown, text) against a rubric "
        "of the ways such projects fail. Also: `review rubric` lists the criteria; `review serve` "
        "starts the web form.",
        epilog="Exit codes: 0 reviewed; 1 reviewed but below --fail-under or a --require gate; "
        "2 unusable input or usage error.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="documents to review")
    p.add_argument(
        "--format", "-f", choices=FORMATS, default="text", help="report format (default: text)"
    )
    p.add_argument(
        "--output", "-o", metavar="PATH", help="write the report here (a folder when several files)"
    )
    p.add_argument("--kind", choices=DOCUMENT_KINDS, help="document kind (default: detected)")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=os.environ.get("REVIEWER_ENGINE", "auto"),
        help="auto = LLM when an endpoint is configured, else rules (default: auto)",
    )
    p.add_argument(
        "--lang", choices=REPORT_LANGUAGES, help="report language (default: the document's)"
    )
    p.add_argument(
        "--password",
        metavar="PW",
        help="open an encrypted PDF with this password (REVIEWER_PDF_PASSWORD keeps it out of ps)",
    )
    p.add_argument(
        "--max-pages",
        type=int,
        metavar="N",
        help=f"review only the first N pages of a PDF (a partial review; the limit is {config.MAX_PDF_PAGES})",
    )
    llm = p.add_argument_group("LLM engine (README: LLM review)")
    llm.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="N",
        help="ask the model N times per criterion and report the spread (default: 1)",
    )
    llm.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help=f"calls in flight at once (default: REVIEWER_CONCURRENCY or {config.LLM_CONCURRENCY})",
    )
    llm.add_argument(
        "--cache-dir", metavar="DIR", help="where answers are cached (default: the user cache dir)"
    )
    llm.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    llm.add_argument(
        "--no-redact",
        action="store_true",
        help="send e-mail addresses, phone numbers, マイナンバー, card numbers and addresses as they are",
    )
    p.add_argument(
        "--fail-under", type=int, metavar="N", help="exit 1 when the score is below N (0-100)"
    )
    p.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="ID>=N",
        help="exit 1 unless criterion ID reaches level N, e.g. EXIT>=2 (repeatable)",
    )
    p.add_argument("--version", action="version", version=f"reviewer {__version__}")
    return p


def _requirements(specs: list[str]) -> list[tuple[str, int]]:
    out = []
    for spec in specs:
        m = _REQUIRE.match(spec)
        if not m or m.group(1).upper() not in CRITERION_IDS:
            raise UsageError(
                f"--require {spec!r}: expected ID>=N with ID one of {', '.join(CRITERION_IDS)} and N 0-3"
            )
        out.append((m.group(1).upper(), int(m.group(2))))
    return out


def _rubric_command(argv: list[str]) -> int:
    p = _Parser(
        prog="review rubric", description="List the rubric's criteria with the article chapters."
    )
    p.add_argument("--lang", choices=REPORT_LANGUAGES, default="en")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    args = p.parse_args(argv)
    from .rubric import load_rubric

    rubric = load_rubric()
    lang = args.lang
    if args.format == "json":
        rows = [
            {
                "id": c.id,
                "title": c.title(lang),
                "chapter": c.chapter.number,
                "chapter_title": c.chapter.title(lang),
                "guards_against": c.guards_against(lang),
                "aspects": [{"id": a.id, "title": a.title(lang)} for a in c.aspects],
                "red_flags": [f.id for f in c.red_flags],
            }
            for c in rubric.criteria
        ]
        print(
            json.dumps({"version": rubric.version, "criteria": rows}, ensure_ascii=False, indent=2)
        )
        return ExitCode.OK
    print(f"rubric {rubric.version}: {len(rubric.criteria)} criteria")
    for c in rubric.criteria:
        print(f"\n{c.id:<9} {c.title(lang)}")
        print(
            f"          {'第' if lang == 'ja' else 'chapter '}{c.chapter.number}{'章' if lang == 'ja' else ''}: "
            f"{c.chapter.title(lang)}"
        )
        print(f"          {c.guards_against(lang)}")
        print(
            f"          {'観点' if lang == 'ja' else 'aspects'}: {', '.join(a.title(lang) for a in c.aspects)}"
        )
    return ExitCode.OK


@contextlib.contextmanager
def _progress(name: str, calls_model: bool):
    """A progress bar on stderr while the model is asked, when stderr is a terminal."""
    if not (calls_model and sys.stderr.isatty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(f"{Path(name).name}: asking the model", total=None)

        def update(done: int, planned: int) -> None:
            bar.update(task, completed=done, total=planned or None)

        yield update


def _serve_command(argv: list[str]) -> int:
    p = _Parser(
        prog="review serve",
        description="Serve the upload form and the JSON API (POST /api/review) over HTTP.",
        epilog="Environment: REVIEWER_MAX_UPLOAD_MB (default 20), REVIEWER_DEADLINE_S (default 60), "
        "REVIEWER_TOKEN (require this token: Bearer on the API, the password on the pages), "
        "REVIEWER_WORKERS (review processes; default one per core).",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 exposes it "
        "to the network, so set REVIEWER_TOKEN)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    args = p.parse_args(argv)
    if not 0 < args.port < 65536:
        raise UsageError("--port must be between 1 and 65535")
    from .web import serve

    serve(args.host, args.port)
    return ExitCode.OK


def _write(text: str, target: Path | None) -> None:
    if target is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None


def _run(argv: list[str]) -> int:
    if argv and argv[0] == "rubric" and not Path("rubric").exists():
        return _rubric_command(argv[1:])
    if argv and argv[0] == "serve" and not Path("serve").exists():
        return _serve_command(argv[1:])
    args = _review_parser().parse_args(argv)
    requirements = _requirements(args.require)
    if args.fail_under is not None and not 0 <= args.fail_under <= 100:
        raise UsageError("--fail-under must be between 0 and 100")

    if not 1 <= args.samples <= 10:
        raise UsageError("--samples must be between 1 and 10")
    if args.concurrency is not None and not 1 <= args.concurrency <= 64:
        raise UsageError("--concurrency must be between 1 and 64")
    from .report import render
    from .review import review

    llm_options = None
    if args.engine == "llm" or (args.engine == "auto" and config.llm_configured()):
        from .llm import LLMOptions

        llm_options = LLMOptions.from_env(
            concurrency=args.concurrency,
            samples=args.samples,
            cache_dir=Path(args.cache_dir) if args.cache_dir else None,
            use_cache=not args.no_cache,
            redact=not args.no_redact,
        )

    if args.max_pages is not None and not 1 <= args.max_pages <= config.MAX_PDF_PAGES:
        raise UsageError(f"--max-pages must be between 1 and {config.MAX_PDF_PAGES}")
    parse_options = ParseOptions(
        password=args.password or os.environ.get("REVIEWER_PDF_PASSWORD") or None,
        max_pages=args.max_pages,
    )
    several = len(args.files) > 1
    out = Path(args.output) if args.output else None
    if out is not None and several and out.exists() and not out.is_dir():
        raise UsageError(f"--output {out} must be a folder when reviewing several files")
    color = args.output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ

    status = ExitCode.OK
    reviews = []
    for name in args.files:
        try:
            with _progress(name, llm_options is not None) as progress:
                result = review(
                    name,
                    kind=args.kind,
                    lang=args.lang,
                    engine=args.engine,
                    llm_options=llm_options,
                    progress=progress,
                    parse_options=parse_options,
                )
        except (UsageError, LLMError):
            raise
        except ReviewerError as exc:
            print(f"review: {exc}", file=sys.stderr)
            status = ExitCode.UNUSABLE
            continue
        failed = []
        if args.fail_under is not None and result.overall.score < args.fail_under:
            failed.append(f"score {result.overall.score} < {args.fail_under}")
        for cid, need in requirements:
            got = result.criterion(cid).level
            if got < need:
                failed.append(f"{cid} level {got} < {need}")
        if failed:
            print(f"review: {name}: below the gate: {'; '.join(failed)}", file=sys.stderr)
            if status == ExitCode.OK:
                status = ExitCode.BELOW_THRESHOLD
        reviews.append(result)
        if args.format == "json" and several and out is None:
            continue  # printed together as one array below
        text = render(result, args.format, lang=args.lang, color=color)
        if out is not None and (several or out.is_dir()):
            _write(text, out / f"{Path(name).name}.{EXTENSIONS[args.format]}")
        elif out is not None:
            _write(text, out)
        else:
            if several and args.format in ("text", "md"):
                _write(("=" * 78) + f"\n{name}\n" + ("=" * 78), None)
            _write(text, None)
    if args.format == "json" and several and out is None:
        payload = [r.model_dump(mode="json") for r in reviews]
        _write(json.dumps(payload, ensure_ascii=False, indent=2), None)
    return status


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `review` console script; never shows a traceback for user errors."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        _review_parser().print_usage(sys.stderr)
        print("review: no file given (see review --help)", file=sys.stderr)
        return ExitCode.UNUSABLE
    try:
        return _run(argv)
    except ReviewerError as exc:
        print(f"review: {exc}", file=sys.stderr)
        return ExitCode.UNUSABLE
    except KeyboardInterrupt:
        print("review: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
