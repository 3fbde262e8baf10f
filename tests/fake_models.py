"""Model behaviours for the fake OpenAI server: responders that read the reviewer's prompt.

They find what a real model would: the criteria asked (the `## ID — title` headings of the
first request, or the ids named in a repair or re-ask message) and the document passages between
the per-call marker lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from reviewer.models import CRITERION_IDS, Review

from .fake_openai import FakeRequest, Reply

_MARKER = re.compile(r"===== DOCUMENT [0-9a-f]+ =====")
_HEADING = re.compile(r"^## ([A-Z]+) — ", re.M)
_IDS = re.compile(r"\b(" + "|".join(CRITERION_IDS) + r")\b")


def _texts(req: FakeRequest) -> list[str]:
    return [str(m.get("content") or "") for m in req.messages]


def asked(req: FakeRequest) -> list[str]:
    """The criteria this request wants judged."""
    texts = _texts(req)
    first = next((t for t in texts if _HEADING.search(t)), "")
    ids = _HEADING.findall(first)
    last = texts[-1]
    if last is not first:  # a repair or re-ask names the criteria it wants
        named = [i for i in dict.fromkeys(_IDS.findall(last)) if i in ids]
        return named or ids
    return ids


def passages(req: FakeRequest) -> str:
    """The document text the request carries (between the marker lines)."""
    for text in _texts(req):
        parts = _MARKER.split(text)
        if len(parts) >= 3:
            return parts[1]
    return ""


def judgement(
    cid: str, level: int, quotes: list[str], aspects: dict[str, str] | None = None
) -> dict:
    return {
        "id": cid,
        "level": level,
        "evidence": [{"quote": q, "aspect": None} for q in quotes],
        "aspects": [{"id": a, "status": s} for a, s in (aspects or {}).items()],
        "recommendation": f"Make {cid} concrete.",
        "questions": [f"Who owns {cid}?"],
    }


def agreeing(rules: Review) -> Callable[[FakeRequest], Reply]:
    """A careful model that reaches the rules' levels and quotes what it was shown."""
    by_id = {c.id: c for c in rules.criteria}

    def respond(req: FakeRequest) -> Reply:
        shown = passages(req)
        out = []
        for cid in asked(req):
            result = by_id[cid]
            quotes = [e.quote for e in result.evidence if e.quote in shown]
            level = result.level if quotes or result.level < 2 else 1
            aspects = {a.id: a.status for a in result.aspects}
            out.append(judgement(cid, level, quotes[:3], aspects))
        return Reply.json({"criteria": out})

    return respond


def first_sentence(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if len(line) >= 12 and not line.startswith("["):
            return line[:120]
    return ""


def constant(level: int, quote: str | None = None) -> Callable[[FakeRequest], Reply]:
    """A model that gives every criterion the same level, quoting `quote` or the first passage line."""

    def respond(req: FakeRequest) -> Reply:
        q = quote if quote is not None else first_sentence(passages(req))
        return Reply.json(
            {"criteria": [judgement(cid, level, [q] if q else []) for cid in asked(req)]}
        )

    return respond
