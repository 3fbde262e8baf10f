"""The report's labels in both languages (strings.yaml), and helpers every renderer shares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, get_args

import yaml

from ..models import (
    DOCUMENT_KINDS,
    AspectStatus,
    CriterionResult,
    Evidence,
    Language,
    RedFlag,
    ReportLanguage,
    Review,
    Source,
    Verdict,
)

LEVEL_MAX = 3
# Marks that tell aspect statuses apart without colour.
STATUS_MARK = {"concrete": "✓", "vague": "~", "missing": "✗"}
LANGS: tuple[str, ...] = get_args(ReportLanguage)

# The values each enumerated section of strings.yaml must name, taken from the records.
_SECTIONS: dict[str, tuple[Any, ...] | None] = {
    "labels": None,  # free-form; a missing label fails the render tests in both languages
    "verdict": get_args(Verdict),
    "level": tuple(range(LEVEL_MAX + 1)),
    "status": get_args(AspectStatus.model_fields["status"].annotation),
    "kind": DOCUMENT_KINDS,
    "language": get_args(Language),
    "source": get_args(Source),
    "engine": get_args(Review.model_fields["engine"].annotation),
}


@dataclass(frozen=True)
class Strings:
    """Every label of the report in one language; sections are plain dicts, for Jinja too."""

    lang: ReportLanguage
    labels: dict[str, str]
    verdict: dict[str, str]
    level: dict[int, str]
    status: dict[str, str]
    kind: dict[str, str]
    language: dict[str, str]
    source: dict[str, str]
    engine: dict[str, str]

    def level_name(self, level: int) -> str:
        """'2 partial' / '2 部分的'."""
        return f"{level} {self.level[level]}"


@cache
def _table() -> dict[str, dict[Any, dict[str, str]]]:
    path = files("reviewer.report").joinpath("strings.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("reviewer/report/strings.yaml: expected a mapping of sections")
    for section, required in _SECTIONS.items():
        entries = data.get(section)
        if not isinstance(entries, dict):
            raise ValueError(f"reviewer/report/strings.yaml: section {section!r} is missing")
        if required is not None and sorted(map(str, entries)) != sorted(map(str, required)):
            valid = ", ".join(map(str, required))
            raise ValueError(f"reviewer/report/strings.yaml: {section} must cover exactly {valid}")
        for key, text in entries.items():
            if not (
                isinstance(text, dict)
                and sorted(text) == sorted(LANGS)
                and all(isinstance(v, str) and v.strip() for v in text.values())
            ):
                raise ValueError(f"reviewer/report/strings.yaml: {section}.{key} needs ja and en")
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"reviewer/report/strings.yaml: unknown sections {unknown}")
    return data


@cache
def strings(lang: ReportLanguage) -> Strings:
    """The labels in one report language."""
    if lang not in LANGS:
        raise ValueError(f"unknown report language {lang!r}; valid: {', '.join(LANGS)}")
    table = _table()
    return Strings(
        lang=lang,
        **{
            section: {key: text[lang] for key, text in table[section].items()}
            for section in _SECTIONS
        },
    )


def level_bar(level: int) -> str:
    """A small bar such as ■■□ for level 2 of 3."""
    return "■" * level + "□" * (LEVEL_MAX - level)


def location(item: Evidence | RedFlag, review: Review, lang: ReportLanguage) -> str:
    """The item's locator in the report language (the stored one when the languages agree)."""
    return item.location if lang == review.lang else item.where.label(lang)


def lowering_flags(review: Review, criterion: CriterionResult) -> list[RedFlag]:
    """The red flags (with their quotes) that lowered this criterion's level."""
    ids = set(criterion.red_flags)
    return [flag for flag in review.red_flags if flag.id in ids]


# C0/C1 control characters (ESC starts terminal escape sequences) and bidirectional overrides,
# which could make a quote display as something else. Newlines and tabs are kept.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def sanitize(review: Review) -> Review:
    """A copy of the review whose strings carry no control characters, for display."""
    return Review.model_validate(_clean(review.model_dump()))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSAFE.sub("", value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
