"""Parsing in a child process: a stalling, memory-hungry or crashing parser costs only the limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import reviewer.parse
from reviewer.errors import ParseError
from reviewer.sandbox import parse_isolated

from .conftest import ROOT, SAMPLES

SAMPLE = SAMPLES / "en-proposal-strong.md"


def test_a_parse_in_the_child_returns_the_same_document():
    assert parse_isolated(SAMPLE) == reviewer.parse.parse_file(SAMPLE)


def test_parse_errors_come_back_as_they_are(tmp_path):
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(ParseError) as info:
        parse_isolated(empty)
    with pytest.raises(ParseError) as direct:
        reviewer.parse.parse_file(empty)
    assert str(info.value) == str(direct.value)


# The child is forked, so a parser replaced here is the parser the child runs.


def test_a_stalling_parser_is_stopped_at_the_deadline(monkeypatch):
    monkeypatch.setattr(reviewer.parse, "parse_file", lambda *a, **k: time.sleep(60))
    started = time.monotonic()
    with pytest.raises(ParseError, match="longer than 0.5 s"):
        parse_isolated(SAMPLE, timeout=0.5)
    assert time.monotonic() - started < 5


def test_a_memory_bomb_is_stopped_at_the_limit(monkeypatch):
    def bomb(*a, **k):
        blocks = []
        while True:
            blocks.append(bytearray(50 * 1024 * 1024))

    monkeypatch.setattr(reviewer.parse, "parse_file", bomb)
    with pytest.raises(ParseError, match="more than 200 MB"):
        parse_isolated(SAMPLE, memory_mb=200)


def test_a_crashing_parser_is_a_parse_error(monkeypatch):
    monkeypatch.setattr(
        reviewer.parse, "parse_file", lambda *a, **k: os.kill(os.getpid(), signal.SIGSEGV)
    )
    with pytest.raises(ParseError, match="crashed"):
        parse_isolated(SAMPLE)


def test_runaway_recursion_is_a_parse_error(monkeypatch):
    def deep(*a, **k):
        return deep()

    monkeypatch.setattr(reviewer.parse, "parse_file", deep)
    with pytest.raises(ParseError, match="nests too deeply"):
        parse_isolated(SAMPLE)


def test_the_parent_carries_on_after_each_failure(monkeypatch):
    monkeypatch.setattr(reviewer.parse, "parse_file", lambda *a, **k: time.sleep(60))
    with pytest.raises(ParseError):
        parse_isolated(SAMPLE, timeout=0.2)
    monkeypatch.undo()
    assert parse_isolated(SAMPLE).blocks


def test_cli_limits_from_the_environment():
    env = {**os.environ, "REVIEWER_PARSE_TIMEOUT": "soon"}
    out = subprocess.run(
        [sys.executable, "-m", "reviewer.cli", str(SAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 2 and "REVIEWER_PARSE_TIMEOUT" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("sample", "library"),
    [("ja-poc-plan-strong.docx", "docx"), ("ja-poc-plan-strong.pdf", "pypdf")],
)
def test_the_parser_library_is_imported_before_the_fork(sample, library):
    # Imported in the parent, the library is inherited by every child; imported in the child,
    # each file of a multi-file review (and each web request) would pay for it again.
    probe = (
        "import sys\n"
        "from reviewer.sandbox import parse_isolated\n"
        f"parse_isolated({str(SAMPLES / sample)!r})\n"
        f"print({library!r} in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "True"


def test_the_parent_is_not_left_frozen():
    # The heap is frozen only while the child is forked; left frozen, the parent (a server) would
    # never collect cycles created before it.
    import gc

    before = gc.get_freeze_count()
    parse_isolated(SAMPLE)
    assert gc.get_freeze_count() == before
