"""Shared fixtures: the repository's folders and a helper to review text in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
RUBRICS = ROOT / "rubrics"


@pytest.fixture(scope="session")
def rubric():
    from reviewer.rubric import load_rubric

    return load_rubric(RUBRICS)


def review_markdown(text: str, *, kind: str | None = None, lang: str | None = None):
    """Review a Markdown passage through the real parser and rules."""
    from reviewer.parse import parse_bytes
    from reviewer.review import review

    return review(
        parse_bytes(text.encode("utf-8"), "passage.md"), kind=kind, lang=lang, engine="rules"
    )
