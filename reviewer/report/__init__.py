"""Render stage: one Review record, four formats (text, md, json, html)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..models import ReportLanguage, Review

if TYPE_CHECKING:
    from .html import Link

__all__ = ["FORMATS", "render"]

FORMATS: tuple[str, ...] = ("text", "md", "json", "html")


def render(
    review: Review,
    fmt: str,
    *,
    lang: ReportLanguage | None = None,
    color: bool = False,
    links: Sequence[Link] = (),
) -> str:
    """The review as text, md, json or html; labels in `lang` (default: the review's language).

    `color` applies to text only. JSON is the Review record itself, whatever `lang` says.
    `links` (html only: reviewer.report.html.Link) puts a row of links above the report, as the
    web form does for downloads; without them the page is the one `--format html` writes.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    if links and fmt != "html":
        raise ValueError("links apply to the html format only")
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

    return render_html(shown, labels, links)
