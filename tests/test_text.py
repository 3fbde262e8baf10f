"""Text helpers: the fast paths give exactly what the plain definitions give."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.parse.text import display_width, heading_like
from reviewer.rules import match_spans
from reviewer.text import (
    _ABBREV,
    _DASH_TABLE,
    _SPACE_BETWEEN_CJK,
    _WS,
    detect_language,
    normalize,
    split_sentences,
)

_PIECES = st.sampled_from(
    [
        "a",
        "Z",
        " ",
        "  ",
        "\n",
        "\t",
        "\u3000",
        "\u00a0",
        ".",
        "。",
        "！",
        "?",
        "Mr. ",
        "e.g. ",
        "No. 5",
        "J. ",
        "ー",
        "〜",
        "～",
        "‐",
        "–",
        "−",
        "─",
        "ＫＰＩ",
        "１２",
        "ｱｲ",
        "12",
        "分",
        "漢字",
        "かな",
        "カナ",
        "(",
        '"',
        "AI",
    ]
)
_TEXT = st.lists(_PIECES, max_size=30).map("".join)


def _plain_normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_DASH_TABLE).casefold()
    return _SPACE_BETWEEN_CJK.sub("", _WS.sub(" ", text)).strip()


_PLAIN_END = re.compile(
    rf"(?<=[。！？!?])\s*|{_ABBREV}(?<=[.])\s+(?=[\"'(\[A-Z0-9\u3040-\u9fff])|\n+"
)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_normalize_and_split_match_their_plain_definitions(text):
    assert normalize(text) == _plain_normalize(text)
    plain = [p.strip() for p in _PLAIN_END.split(text)]
    assert split_sentences(text) == [p for p in plain if p]


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_language_and_heading_checks_match_their_plain_definitions(text):
    ja = len(re.findall(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]", text))
    kana = len(re.findall(r"[\u3040-\u30ff]", text))
    en = len(re.findall(r"[A-Za-z]{2,}", text))
    units = ja / 2 if kana else ja / 4
    share = units / (units + en) if units + en else None
    expected = "en" if share is None or share <= 0.15 else "ja" if share >= 0.7 else "mixed"
    assert detect_language(text) == expected
    for width in (3, 10, 60, 90):
        fits = 0 < display_width(text.strip()) <= width
        assert heading_like(text, width) == (fits and heading_like(text, 10**6))


_PATTERNS = [
    r"a*",
    r"\b",
    r"^a|a$",
    r"(?<=a)b?",
    r"(?<![a-z])ai(?![a-z])",
    r"\d+分?",
    r"(?:(?<=部)|(?<=課))の?",
    r"x|",
    r"[^\s|:][^|:]{0,3}:\s?(a|r)(?= \||$)",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_PATTERNS), st.text(alphabet="ab x:|部の課12分ai", max_size=20))
def test_match_spans_equal_finditer(pattern, text):
    regex = re.compile(pattern)
    first = regex.search(text)
    expected = [m.span() for m in regex.finditer(text)]
    if first is None:
        assert expected == []
    else:
        assert match_spans(regex, text, first) == expected
