"""Text helpers shared by the stages: normalisation for matching, sentences, language."""

from __future__ import annotations

import re
import unicodedata

from .models import Language

# NFKC leaves these alone; a pattern written with "-" or "~" should match all of them.
# The katakana prolonged sound mark ー is a letter, not a dash, and is kept.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2500\u30fc\uff70"
_DASH_TABLE = {ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2500"}
_DASH_TABLE.update({ord("\u301c"): "~", ord("\uff5e"): "~"})
_DASH_CHAR = re.compile("[" + "".join(re.escape(chr(c)) for c in _DASH_TABLE) + "]")
_CJK = (
    r"\u3000-\u303f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
)
# Spaces next to Japanese carry no meaning ("生成 AI", "12 分"), and authors type them either way.
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}0-9a-z])|(?<=[0-9a-z])\s+(?=[{_CJK}])")
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The copy patterns match against: NFKC, case-folded, dashes and tildes unified, spaces tidied."""
    text = unicodedata.normalize("NFKC", text)
    if _DASH_CHAR.search(text):  # str.translate walks every character; most texts have none
        text = text.translate(_DASH_TABLE)
    text = _WS.sub(" ", text.casefold())
    if " " in text:  # the look-behind scan costs more than the check
        text = _SPACE_BETWEEN_CJK.sub("", text)
    return text.strip()


_JA_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")


def scripts(text: str) -> frozenset[str]:
    """Which pattern languages apply to a text: "ja" when it has Japanese, "en" when Latin letters."""
    found = set()
    if _JA_CHAR.search(text):
        found.add("ja")
    if _LATIN_LETTER.search(text):
        found.add("en")
    return frozenset(found)


_KANA = re.compile(r"[\u3040-\u30ff]")
_JA_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str) -> Language:
    """ja, en or mixed, from the share of Japanese characters against English words."""
    sample = text[:200_000]
    ja = sum(map(len, _JA_RUN.findall(sample)))  # runs, not characters: far fewer strings
    kana = _KANA.search(sample) is not None
    en_words = len(_LATIN_WORD.findall(sample))
    # A Japanese word averages about two characters, an English word about five letters.
    ja_units = ja / 2 if kana else ja / 4  # kanji without kana is more likely Chinese or labels
    en_units = en_words
    if ja_units == 0 and en_units == 0:
        return "en"
    share = ja_units / (ja_units + en_units)
    if share >= 0.7:
        return "ja"
    if share <= 0.15:
        return "en"
    return "mixed"


# A sentence ends at 。！？ (and ASCII .!? followed by space or end), or at a line break; not after
# abbreviations and initials ("Ms.", "e.g.", "J.").
_ABBREV = "".join(
    rf"(?<!\b{a}\.)"
    for a in ("[A-Z]", "Mr", "Ms", "Dr", "St", "No", "vs", "Mrs", "e\\.g", "i\\.e", "etc")
)
# (The period is looked for before the abbreviations: most positions then fail at once.)
_SENTENCE_END = re.compile(
    rf"(?<=[。！？!?])\s*|(?<=[.]){_ABBREV}\s+(?=[\"'(\[A-Z0-9\u3040-\u9fff])|\n+"
)
_MAY_END = re.compile(r"[。！？!?.\n]")


def split_sentences(text: str) -> list[str]:
    """Split a block into sentences, keeping the original characters."""
    if not _MAY_END.search(text):  # nothing to split at
        text = text.strip()
        return [text] if text else []
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if p]
