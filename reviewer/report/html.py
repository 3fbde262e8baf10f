"""HTML report: one self-contained page, inline CSS and SVG, no script; the web app serves it."""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..models import CriterionResult, Evidence, RedFlag, Review
from .labels import (
    LEVEL_MAX,
    STATUS_MARK,
    Strings,
    engine_name,
    hidden_headline,
    hidden_items,
    injection_effects,
    injection_statement,
    level_bar,
    llm_fields,
    location,
    lowering_flags,
    rules_level_note,
    samples_note,
    usage_fields,
)

TEMPLATE = "report.html.j2"

# Chart geometry, in SVG user units (the SVG scales to the page width).
CHART_LABEL_W = 280  # criterion id and title
CHART_ID_W = 82  # the id column inside the label area
CHART_UNIT = 110  # one level
CHART_TEXT_W = 110  # room for the level name after the longest bar
CHART_TOP = 30  # axis labels
CHART_ROW = 26
CHART_BAR = 16
CHART_MIN_BAR = 3  # level 0 still shows a stub, so the row is not read as missing data
CHART_FONT = 13  # px, as in the template's CSS
CHART_TITLE_EM = (CHART_LABEL_W - CHART_ID_W - 8) / CHART_FONT  # room for the title, in em

_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


@dataclass(frozen=True)
class Link:
    """A link shown above the report when a page carries it (the web form: downloads, back)."""

    label: str
    href: str
    download: str | None = None  # a file name: the browser saves the target instead of opening it


@dataclass(frozen=True)
class ChartRow:
    id: str
    title: str  # shortened to fit; the full title is in `tip`
    level: int
    y: float
    width: float
    tip: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label_w: int
    id_w: int
    top: int
    bar: int
    rows: list[ChartRow]
    axis: list[tuple[float, str]]
    description: str


def render_html(review: Review, s: Strings, links: Sequence[Link] = ()) -> str:
    """The report as one HTML page; everything from the document is escaped by the template.

    `links` adds a row of links above the report; without them the page is the CLI's file.
    """
    lang = s.lang

    def loc(item: Evidence | RedFlag) -> str:
        return location(item, review, lang)

    def flags(c: CriterionResult) -> list[RedFlag]:
        return lowering_flags(review, c)

    def rules_note(c: CriterionResult) -> str | None:
        return rules_level_note(c, s)

    def sampled(c: CriterionResult) -> str | None:
        return samples_note(c, s)

    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            r=review,
            s=s,
            L=s.labels,
            chart=_chart(review, s),
            bar=level_bar,
            mark=STATUS_MARK,
            loc=loc,
            flags=flags,
            rules_note=rules_note,
            sampled=sampled,
            engine=engine_name(review, s),
            llm_fields=llm_fields(review, s),
            usage=usage_fields(review, s),
            injection_headline=injection_statement(review, s, headline=True),
            injection_statement=injection_statement(review, s),
            injection_effects=injection_effects(review, s),
            hidden=hidden_items(review, s),
            hidden_headline=hidden_headline(review, s),
            links=list(links),
        )
    )


def style_hash(page: str) -> str:
    """The CSP source for the page's single <style> block, e.g. "'sha256-…'"."""
    match = _STYLE.search(page)
    if match is None:
        raise ValueError("the page has no <style> block")
    return _csp_hash(match.group(1))


def _csp_hash(css: str) -> str:
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reviewer.report", "templates"),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["csp_hash"] = _csp_hash
    return env


def _chart(review: Review, s: Strings) -> Chart:
    rows = [
        ChartRow(
            id=c.id,
            title=_shorten(c.title, CHART_TITLE_EM),
            level=c.level,
            y=CHART_TOP + i * CHART_ROW + (CHART_ROW - CHART_BAR) / 2,
            width=max(c.level * CHART_UNIT, CHART_MIN_BAR),
            tip=f"{c.id} {c.title}: {level_bar(c.level)} {s.level_name(c.level)}",
        )
        for i, c in enumerate(review.criteria)
    ]
    axis = [(CHART_LABEL_W + k * CHART_UNIT, s.level_name(k)) for k in range(LEVEL_MAX + 1)]
    return Chart(
        width=CHART_LABEL_W + LEVEL_MAX * CHART_UNIT + CHART_TEXT_W,
        height=CHART_TOP + len(rows) * CHART_ROW + 6,
        label_w=CHART_LABEL_W,
        id_w=CHART_ID_W,
        top=CHART_TOP,
        bar=CHART_BAR,
        rows=rows,
        axis=axis,
        description="; ".join(
            f"{c.id} {c.title}: {s.level_name(c.level)}" for c in review.criteria
        ),
    )


def _shorten(text: str, room_em: float) -> str:
    """Cut to fit about `room_em` (a CJK character is 1em, others about 0.6em), with an ellipsis."""
    used = 0.0
    for i, ch in enumerate(text):
        used += 1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6
        if used > room_em:
            return text[: max(i - 1, 1)] + "…"
    return text
