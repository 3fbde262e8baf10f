"""Merge stage: verify the LLM's quotes against the document and turn its judgements into results.

Every quote is looked up in the document after the normalisation the rules use; one that is not
there is dropped. The quote shown to the user is the original text of the block that holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, Field

from . import config
from .models import (
    AspectState,
    AspectStatus,
    CriterionResult,
    Document,
    Evidence,
    ReportLanguage,
)
from .rubric import Criterion
from .rules import aspect_finding
from .text import normalize

MIN_QUOTE_CHARS = 6  # normalised; shorter "quotes" ("KPI", 「目的」) prove nothing
_ELLIPSIS = re.compile(r"\s*(?:…+|\.\.\.+|‥+)\s*")
_WRAPPERS = "\"'“”‘’「」『』«»"


# What the model returns for one criterion (validated by pydantic; see prompts/review.yaml).
class Quote(BaseModel):
    quote: str = Field(description="copied character for character from the document")
    aspect: str | None = Field(description="id of the aspect the quote supports, or null")


class AspectJudgement(BaseModel):
    id: str
    status: AspectState


class Judgement(BaseModel):
    id: str = Field(description="criterion id")
    level: int = Field(ge=0, le=3)
    evidence: list[Quote]
    aspects: list[AspectJudgement]
    recommendation: str
    questions: list[str]


class Judgements(BaseModel):
    """The answer to one call: a judgement per criterion asked."""

    criteria: list[Judgement]


@dataclass
class Verified:
    evidence: list[Evidence]
    dropped: list[str]


class QuoteFinder:
    """Finds quotes in a document's blocks, comparing normalised text."""

    def __init__(self, doc: Document, excluded: set[int] | None = None):
        self.doc = doc
        # Blocks never credited: text addressed to the reviewer (hidden text is in no block).
        self.excluded = excluded or set()
        self._norm = [normalize(b.text) for b in doc.blocks]

    def find(self, quote: str) -> tuple[int, str] | None:
        """(block index, original text of the quote) or None when the document does not hold it."""
        parts = [
            normalize(p.strip().strip(_WRAPPERS)) for p in _ELLIPSIS.split(quote.strip(_WRAPPERS))
        ]
        parts = [p for p in parts if p]
        if not parts or sum(len(p) for p in parts) < MIN_QUOTE_CHARS:
            return None
        for i, norm in enumerate(self._norm):
            if i in self.excluded:
                continue
            pos, ok = 0, True
            for p in parts:
                found = norm.find(p, pos)
                if found < 0:
                    ok = False
                    break
                pos = found + len(p)
            if ok:
                return i, _original(self.doc.blocks[i].text, parts[0], parts[-1])
        return None

    def verify(self, quotes: list[Quote], lang: ReportLanguage, aspects: set[str]) -> Verified:
        evidence: list[Evidence] = []
        dropped: list[str] = []
        seen: set[str] = set()
        for q in quotes:
            hit = self.find(q.quote)
            if hit is None:
                dropped.append(q.quote)
                continue
            index, original = hit
            if original in seen:
                continue
            seen.add(original)
            where = self.doc.blocks[index].location
            evidence.append(
                Evidence(
                    quote=original,
                    location=where.label(lang),
                    where=where,
                    aspect=q.aspect if q.aspect in aspects else None,
                    concrete=q.aspect in aspects,
                )
            )
        return Verified(evidence[: config.MAX_EVIDENCE], dropped)


def _original(text: str, first: str, last: str) -> str:
    """The shortest span of the original text whose normalised form runs from first to last."""
    # Holding the quote is monotonic in both ends, so each end is found by bisection.
    lo, hi = 0, len(text)
    while lo < hi:  # the largest start that still holds it
        mid = (lo + hi + 1) // 2
        if _holds(text[mid:], first, last):
            lo = mid
        else:
            hi = mid - 1
    start, lo, hi = lo, lo, len(text)
    while lo < hi:  # the smallest end that still holds it
        mid = (lo + hi) // 2
        if _holds(text[start:mid], first, last):
            hi = mid
        else:
            lo = mid + 1
    return text[start:lo].strip()


def _holds(span: str, first: str, last: str) -> bool:
    norm = normalize(span)
    start = norm.find(first)
    return start >= 0 and norm.find(last, start) >= 0


def from_judgement(
    crit: Criterion,
    judgement: Judgement,
    verified: Verified,
    rules: CriterionResult,
    lang: ReportLanguage,
) -> CriterionResult:
    """The LLM's judgement of one criterion as a result, with the rules' level beside it."""
    given = {a.id: a.status for a in judgement.aspects}
    statuses, findings = [], []
    for aspect in crit.aspects:
        title = aspect.title(lang)
        status: AspectState = given.get(aspect.id, "missing")
        statuses.append(AspectStatus(id=aspect.id, title=title, status=status))
        if status != "concrete":
            findings.append(aspect_finding(aspect.id, title, status, lang))
    result = rules.model_copy(
        update={
            "level": judgement.level,
            "source": "llm",
            "evidence": verified.evidence,
            "findings": findings,
            "aspects": statuses,
            "recommendation": judgement.recommendation.strip() or rules.recommendation,
            "questions": [q.strip() for q in judgement.questions if q.strip()][:3]
            or rules.questions,
            "searched": None,
            "rules_level": rules.level,
        }
    )
    result.disagreement = disagreement(result.level, rules.level, lang)
    return result


def disagreement(llm_level: int, rules_level: int, lang: ReportLanguage) -> str | None:
    if abs(llm_level - rules_level) < 2:
        return None
    if lang == "ja":
        return f"LLMの判定（レベル{llm_level}）とルールの判定（レベル{rules_level}）が2段階以上異なる。根拠を確認すること。"
    return (
        f"The LLM (level {llm_level}) and the rules (level {rules_level}) differ by two levels "
        "or more: check the evidence."
    )


def fallback(rules: CriterionResult, reason: str) -> CriterionResult:
    """The rules' judgement, marked with why the LLM's is not used."""
    return rules.model_copy(update={"fallback": reason, "rules_level": rules.level})
