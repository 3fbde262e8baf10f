"""The report's labels in both languages (strings.yaml), and helpers every renderer shares."""

from __future__ import annotations

import re
import string
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
    HiddenKind,
    Language,
    RedFlag,
    ReportLanguage,
    Review,
    Source,
    Usage,
    Verdict,
)

LEVEL_MAX = 3
# Marks that tell aspect statuses apart without colour.
STATUS_MARK = {"concrete": "✓", "vague": "~", "missing": "✗"}
LANGS: tuple[str, ...] = get_args(ReportLanguage)
# Usage counters always shown (the JSON contract's), then the others, only when not zero.
USAGE: tuple[str, ...] = ("llm_calls", "prompt_tokens", "completion_tokens", "cache_hits")
USAGE_EXTRA: tuple[str, ...] = tuple(k for k in Usage.model_fields if k not in USAGE)

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
    "hidden": get_args(HiddenKind),
    # LLMInfo.redactions kinds (reviewer/redact.py KINDS, not imported here: its patterns cost
    # start-up time; the render tests check the two agree). An unknown kind shows as its key.
    "redaction": None,
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
    redaction: dict[str, str]
    engine: dict[str, str]
    hidden: dict[str, str]

    def level_name(self, level: int) -> str:
        """'2 partial' / '2 部分的'."""
        return f"{level} {self.level[level]}"

    def join(self, items: list[str]) -> str:
        """'a, b' / 'a、b'."""
        return self.labels["list_sep"].join(items)

    def sentences(self, parts: list[str]) -> str:
        """Sentences run together as the language writes them: spaced in English, not in Japanese."""
        return ("" if self.lang == "ja" else " ").join(parts)


@cache
def _table() -> dict[str, dict[Any, dict[str, str]]]:
    path = files("reviewer.report").joinpath("strings.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    _check(data)
    return data


def _check(data: Any) -> None:
    """Every section present and complete, every entry in both languages with the same {names}."""
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
            if len({_placeholders(text[lang]) for lang in LANGS}) != 1:
                raise ValueError(
                    f"reviewer/report/strings.yaml: {section}.{key}: ja and en need the same "
                    "{placeholders}"
                )
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"reviewer/report/strings.yaml: unknown sections {unknown}")


def _placeholders(text: str) -> frozenset[str]:
    """The {names} a label is formatted with."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


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


def engine_name(review: Review, s: Strings) -> str:
    """'LLM'; a mixed review also says how many criteria each engine judged."""
    name = s.engine[review.engine]
    if review.engine != "mixed":
        return name
    llm = sum(1 for c in review.criteria if c.source == "llm")
    counts = s.labels["engine_counts"].format(llm=llm, rules=len(review.criteria) - llm)
    return f"{name} ({counts})"


def llm_fields(review: Review, s: Strings) -> list[tuple[str, str]]:
    """What produced an LLM review, as (label, value) rows; none for a rules-only review."""
    info = review.llm
    if info is None:
        return []
    L = s.labels
    counts = {kind: n for kind, n in info.redactions.items() if n}
    if not info.redacted:
        redaction = L["redacted_off"]
    elif counts:
        known = list(s.redaction)
        kinds = sorted(counts, key=lambda k: (known.index(k) if k in known else len(known), k))
        listed = s.join([f"{s.redaction.get(k, k)} {counts[k]:,}" for k in kinds])
        redaction = L["redacted_counts"].format(counts=listed)
    else:
        redaction = L["redacted_none"]
    sampling = L["sampling_value"].format(
        samples=info.samples,
        temperature=f"{info.temperature:g}",
        seed="—" if info.seed is None else info.seed,
    )
    return [
        (L["model"], info.model),
        (L["endpoint"], info.endpoint),
        (L["prompt_version"], f"{info.prompt_version} ({info.prompt_hash})"),
        (L["rubric_version"], review.rubric_version),
        (L["sampling"], sampling),
        (L["redaction"], redaction),
    ]


def usage_fields(review: Review, s: Strings) -> list[tuple[str, str]]:
    """Calls and tokens, then the counters that are not zero (retries, fallbacks, ...)."""
    u = review.usage
    keys = [*USAGE, *(k for k in USAGE_EXTRA if getattr(u, k))]
    return [(s.labels[k], f"{getattr(u, k):,}") for k in keys]


def rules_level_note(c: CriterionResult, s: Strings) -> str | None:
    """'rules: 1 vague' when the rules' level differs from the one reported."""
    if c.rules_level is None or c.rules_level == c.level:
        return None
    return f"{s.labels['rules_level']}: {s.level_name(c.rules_level)}"


def samples_note(c: CriterionResult, s: Strings) -> str | None:
    """'answers: 1, 2, 3 (median used)' for a criterion asked several times."""
    if not c.sample_levels:
        return None
    L = s.labels
    levels = s.join([str(n) for n in c.sample_levels])
    return f"{L['sample_levels']}: {levels} ({L['median_used']})"


def injection_statement(review: Review, s: Strings, *, headline: bool = False) -> str:
    """What was detected and what each engine that judged did with it.

    The headline also names the criteria the flagged text moved the LLM on; the injection
    section lists them with their levels (injection_effects) instead.
    """
    L = s.labels
    inj = review.injection
    parts = [L["injection_detected"]]
    if any(c.source == "rules" for c in review.criteria):
        parts.append(L["injection_rules"])
    if review.llm is not None:
        parts.append(L["injection_llm"])
    if headline and inj.influenced:
        moved = s.join([e.criterion for e in inj.effects])
        parts.append(s.sentences([L["injection_influenced"], moved]) + L["full_stop"])
    parts.append(L["injection_check"])
    return s.sentences(parts)


def injection_effects(review: Review, s: Strings) -> list[str]:
    """'KPI: 3 with the text, 1 without', one per criterion the flagged text moved."""
    return [
        s.labels["injection_effect"].format(
            criterion=e.criterion, with_text=e.with_text, without_text=e.without_text
        )
        for e in review.injection.effects
    ]


HIDDEN_SHOWN = 300  # characters of a hidden passage quoted in the report (the JSON has more)


@dataclass(frozen=True)
class HiddenItem:
    """One passage a reader cannot see, ready to show: why, what it says, where."""

    kind: str
    quote: str
    location: str


def hidden_items(review: Review, s: Strings) -> list[HiddenItem]:
    """The review's hidden text, each with its kind's label and its location in `s.lang`."""
    return [
        HiddenItem(
            kind=s.hidden[h.kind],
            quote=h.text if len(h.text) <= HIDDEN_SHOWN else h.text[: HIDDEN_SHOWN - 1] + "…",
            location=h.location.label(s.lang),
        )
        for h in review.hidden
    ]


def hidden_headline(review: Review, s: Strings) -> str:
    return s.labels["hidden_headline"].format(n=len(review.hidden))


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
