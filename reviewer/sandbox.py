"""Parsing in a child process with a wall-clock limit and an address-space limit.

Parsers of hostile files can spin, recurse or allocate without end, and a thread cannot stop
them (pypdf has no timeout of its own). So the parse runs in a forked child: past the deadline
it is killed, past the memory limit its allocations fail, and either way the caller gets a
ParseError with a one-line reason while the process (or the server) carries on.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import multiprocessing as mp
import os
import resource
import sys
from pathlib import Path

from . import config
from .errors import ParseError
from .models import Document, ParseOptions


def parse_isolated(
    path: str | Path,
    *,
    name: str | None = None,
    options: ParseOptions | None = None,
    timeout: float | None = None,
    memory_mb: int | None = None,
) -> Document:
    """parse_file in a child process; a file that takes too long or too much memory is refused."""
    timeout = timeout or config.parse_timeout()
    memory_mb = memory_mb or config.parse_memory_mb()
    shown = str(path)
    if not _can_fork():
        from .parse import parse_file

        return parse_file(path, name=name, options=options)
    _preload(path)
    ctx = mp.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_child, args=(sender, str(path), name, options, memory_mb), daemon=True
    )
    # Inherited objects are frozen for the child: its garbage collections would otherwise walk
    # (and so copy, page by page) the parent's whole heap, which costs a long PDF parse ~7%.
    gc.freeze()
    try:
        child.start()
    finally:
        gc.unfreeze()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise ParseError(
                shown,
                f"parsing took longer than {timeout:g} s and was stopped; the file may be damaged "
                "or built to stall parsers (REVIEWER_PARSE_TIMEOUT raises the limit)",
            )
        try:
            status, payload = receiver.recv()
        except (EOFError, OSError):
            child.join(5)
            raise ParseError(shown, _death(child.exitcode, memory_mb)) from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if status == "ok":
        return Document.model_validate_json(payload)
    if status == "error":
        raise ParseError(shown, payload)
    if status == "memory":
        raise ParseError(shown, _memory(memory_mb))
    raise ParseError(shown, f"the parser failed on this file ({payload}); it may be damaged")


def _preload(path: str | Path) -> None:
    """Import the parser a file needs in this process, before forking: the child inherits it,
    so reviewing several files (or a server) pays for the import once, not per file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return  # the child reports it
    if head.lstrip().startswith(b"%PDF"):
        from .parse import pdf as parser
    elif head.startswith(b"PK"):
        from .parse import docx as parser  # type: ignore[no-redef]
    else:
        from .parse import text as parser  # type: ignore[no-redef]
    parser.preload()


def _child(
    sender, path: str, name: str | None, options: ParseOptions | None, memory_mb: int
) -> None:
    faulthandler.disable()  # a crash in C code is reported as one line, not a stack dump
    try:
        limit_memory(memory_mb)
        from .parse import parse_file

        doc = parse_file(path, name=name, options=options)
        message: tuple[str, object] = ("ok", doc.model_dump_json())  # faster than pickle
    except ParseError as exc:
        message = ("error", exc.reason)
    except MemoryError:
        message = ("memory", None)
    except RecursionError:
        message = ("error", "the file nests too deeply to parse; it may be damaged or hostile")
    except BaseException as exc:  # noqa: BLE001 - whatever a hostile file provokes, report it
        message = ("crash", type(exc).__name__)
    try:
        sender.send(message)
    except MemoryError:
        sender.send(("memory", None))
    finally:
        sender.close()
        # Skip the interpreter's exit handlers inherited from the parent (atexit, logging).
        os._exit(0)


def limit_memory(memory_mb: int) -> None:
    """Cap this process's address space at what it already maps plus the budget."""
    current = _mapped_bytes()
    limit = current + memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()


def _memory(memory_mb: int) -> str:
    return (
        f"parsing needed more than {memory_mb} MB and was stopped; the file may be a "
        "decompression bomb (REVIEWER_PARSE_MEMORY_MB raises the limit)"
    )


def _death(exitcode: int | None, memory_mb: int) -> str:
    if exitcode is not None and exitcode < 0:
        return f"the parser crashed on this file (signal {-exitcode}); it may be damaged or hostile"
    return _memory(memory_mb) if exitcode == 1 else "the parser stopped without an answer"
