"""Render stage: one Review record, four formats (text, md, json, html)."""

from __future__ import annotations

from ..models import ReportLanguage, Review

__all__ = ["FORMATS", "render"]

FORMATS: tuple[str, ...] = ("text", "md", "json", "html")


def render(
    review: Review, fmt: str, *, lang: ReportLanguage | None = None, color: bool = False
) -> str:
    """The review as text, md, json or html; labels in `lang` (default: the review's language).

    `color` applies to text only. JSON is the Review record itself, whatever `lang` says.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    # Each renderer is imported when asked for: rich and Jinja2 cost start-up time that a JSON
    # report does not need.
    if fmt == "json":
        from .json import render_json

        return render_json(review)
    from .labels import sanitize, strings

    labels = strings(lang or review.lang)
    shown = sanitize(review)
    if fmt == "text":
        from .text import render_text

        return render_text(shown, labels, color=color)
    if fmt == "md":
        from .markdown import render_markdown

        return render_markdown(shown, labels)
    from .html import render_html

    return render_html(shown, labels)
