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


def assert_json_contract(data: dict) -> None:
    """The JSON contract of DESIGN.md (schema_version 1): names and value ranges."""
    assert data["schema_version"] == "1"
    assert {"name", "kind", "language", "sha256", "pages"} <= data["document"].keys()
    assert data["engine"] in ("rules", "llm", "mixed")
    assert [c["id"] for c in data["criteria"]] == [
        "PURPOSE", "KPI", "EXIT", "EXPECT", "FIELD", "WORKFLOW", "ALIGN",
        "ROLES", "DATA", "RISK", "VENDOR", "OPS", "ROLLOUT", "BUDGET",
    ]  # fmt: skip
    for c in data["criteria"]:
        assert {
            "id",
            "level",
            "source",
            "evidence",
            "findings",
            "recommendation",
            "questions",
        } <= c.keys()
        assert c["source"] in ("rules", "llm") and 0 <= c["level"] <= 3
        for ev in c["evidence"]:
            assert ev["quote"] and ev["location"]
    for flag in data["red_flags"]:
        assert {"id", "quote", "location", "message"} <= flag.keys()
    assert {"detected", "evidence"} <= data["injection"].keys()
    assert 0 <= data["overall"]["score"] <= 100
    assert data["overall"]["verdict"] in ("approve", "revise", "reject")
    assert {"llm_calls", "prompt_tokens", "completion_tokens", "cache_hits"} <= data["usage"].keys()
