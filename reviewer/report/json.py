"""JSON report: the Review record itself, the contract in DESIGN.md."""

from __future__ import annotations

import json

from ..models import Review


def render_json(review: Review) -> str:
    """`review.model_dump(mode="json")`, UTF-8 kept readable, two-space indent."""
    return json.dumps(review.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
