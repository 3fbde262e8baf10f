"""Property tests: any bytes give a Document or a clean ParseError; any text gives levels 0-3
and quotes that exist in the text. Mutations start from real documents so the parsers get deep."""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewer.errors import ParseError
from reviewer.models import Document
from reviewer.parse import parse_bytes
from reviewer.review import review
from reviewer.text import normalize

from .conftest import SAMPLES

PDF = (SAMPLES / "en-poc-plan-mixed.pdf").read_bytes()
DOCX = (SAMPLES / "ja-poc-plan-strong.docx").read_bytes()
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_refuses(data: bytes, name: str) -> Document | None:
    try:
        doc = parse_bytes(data, name)
    except ParseError as exc:
        assert exc.reason and "\n" not in exc.reason
        return None
    assert isinstance(doc, Document)
    return doc


@FUZZ
@given(st.binary(max_size=4096))
def test_any_bytes(data):
    parses_or_refuses(data, "x.bin")


@FUZZ
@given(
    st.sampled_from([b"%PDF-1.7\n", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xd0\xcf\x11\xe0"]),
    st.binary(max_size=2048),
)
def test_any_bytes_behind_a_known_signature(head, tail):
    parses_or_refuses(head + tail, "x.pdf")


def _mutate(data: bytes, cuts: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for pos, length, junk in cuts:
        pos %= len(out)
        out[pos : pos + length] = junk
    return bytes(out)


_CUTS = st.lists(
    st.tuples(st.integers(0, 10**7), st.integers(0, 64), st.binary(max_size=16)), max_size=4
)


@FUZZ
@given(_CUTS)
def test_a_damaged_pdf(cuts):
    parses_or_refuses(_mutate(PDF, cuts), "damaged.pdf")


@FUZZ
@given(st.integers(0, len(PDF)))
def test_a_truncated_pdf(size):
    parses_or_refuses(PDF[:size], "truncated.pdf")


def _docx_with_damaged_part(part: str, cuts) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(DOCX))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == part:
                body = _mutate(body, cuts)
            dst.writestr(item, body)
    return out.getvalue()


@FUZZ
@given(
    st.sampled_from(
        ["word/document.xml", "word/styles.xml", "[Content_Types].xml", "word/numbering.xml"]
    ),
    _CUTS,
)
def test_a_docx_with_a_damaged_part(part, cuts):
    parses_or_refuses(_docx_with_damaged_part(part, cuts), "damaged.docx")


@FUZZ
@given(_CUTS)
def test_a_damaged_docx_container(cuts):
    parses_or_refuses(_mutate(DOCX, cuts), "damaged.docx")


_PROSE = st.text(
    alphabet=st.sampled_from(
        list("KPIの目標値は現状12分から5分以内に短縮する。担当者と部長が毎月確認し、")
        + list("we will define kpis; the owner reviews data monthly. \n#|-:0123456789%")
        + ["\u200b", "\u3000", "ー", "〜", "\ufeff", "\x00"]
    ),
    max_size=400,
)


@settings(max_examples=40, deadline=None)
@given(_PROSE)
def test_any_text_gives_levels_and_real_quotes(text):
    doc = parses_or_refuses(text.encode("utf-8"), "plan.md")
    if doc is None:
        return
    result = review(doc, engine="rules")
    source = normalize(doc.text())
    for c in result.criteria:
        assert 0 <= c.level <= 3
        for e in c.evidence:
            assert normalize(e.quote) in source
    assert 0 <= result.overall.score <= 100
