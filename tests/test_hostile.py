"""Hostile and broken files: each gets a one-line ParseError (exit 2 from the CLI), never a
traceback or a hang. Files are generated here; nothing large is committed."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import pytest

from reviewer.errors import ParseError
from reviewer.parse import parse_bytes

from .conftest import ROOT, SAMPLES

DOCX = (SAMPLES / "ja-poc-plan-strong.docx").read_bytes()


def _with_member(data: bytes, name: str, body: bytes) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr(name, body)
    return out.getvalue()


def cli(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reviewer.cli", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def assert_refused(path, words: str) -> None:
    out = cli(path)
    assert out.returncode == 2, out.stdout[:200]
    assert out.stderr.count("\n") == 1 and words in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_a_zip_bomb_part_is_refused_by_its_ratio(tmp_path):
    bomb = _with_member(DOCX, "word/media/image1.png", b"\0" * (60 * 1024 * 1024))
    assert len(bomb) < 1024 * 1024  # a megabyte that would unzip to sixty
    with pytest.raises(ParseError, match="zip bomb"):
        parse_bytes(bomb, "bomb.docx")
    path = tmp_path / "bomb.docx"
    path.write_bytes(bomb)
    assert_refused(path, "zip bomb")


def test_a_zip_of_an_unknown_version_is_refused():
    data = bytearray(DOCX)
    central = data.rfind(b"PK\x01\x02")  # the last central directory entry
    data[central + 6 : central + 8] = (182).to_bytes(2, "little")  # "needs version 18.2"
    with pytest.raises(ParseError, match="corrupt"):
        parse_bytes(bytes(data), "odd.docx")
