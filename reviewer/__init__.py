"""reviewer: reviews AI-adoption project documents against the ways such projects fail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Document",
    "ParseError",
    "Review",
    "ReviewerError",
    "RubricError",
    "__version__",
    "load_rubric",
    "parse_file",
    "render",
    "review",
]

if TYPE_CHECKING:
    from .errors import ParseError, ReviewerError, RubricError
    from .models import Document, Review
    from .parse import parse_file
    from .report import render
    from .review import review
    from .rubric import load_rubric

# Imported on first use so `review --version` and a Markdown review stay quick to start.
_LAZY = {
    "Document": "models",
    "Review": "models",
    "ParseError": "errors",
    "ReviewerError": "errors",
    "RubricError": "errors",
    "load_rubric": "rubric",
    "parse_file": "parse",
    "render": "report",
    "review": "review",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)
