"""Terminal report (rich): readable at 80 columns, styled only when asked to be."""

from __future__ import annotations

import io
from collections.abc import Iterator

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ..models import CriterionResult, Evidence, RedFlag, Review
from .labels import (
    STATUS_MARK,
    HiddenItem,
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

WIDTH = 80

LEVEL_STYLE = {0: "bold red", 1: "yellow", 2: "cyan", 3: "green"}
VERDICT_STYLE = {"approve": "bold green", "revise": "bold yellow", "reject": "bold red"}
STATUS_STYLE = {"concrete": "green", "vague": "yellow", "missing": "red"}


def render_text(review: Review, s: Strings, *, color: bool, width: int = WIDTH) -> str:
    """The report for a terminal; ANSI styles only when `color` is true."""
    out = io.StringIO()
    # Every setting is explicit so that neither the environment (COLUMNS, FORCE_COLOR, NO_COLOR,
    # TERM) nor the real terminal changes the output. Markup is off: document text is data.
    console = Console(
        file=out,
        width=width,
        height=50,
        force_terminal=color,
        force_jupyter=False,
        force_interactive=False,
        color_system="standard" if color else None,
        no_color=not color,
        legacy_windows=False,
        markup=False,
        emoji=False,
        highlight=False,
    )
    for part in _report(review, s, width):
        console.print(part)
    if color:
        return out.getvalue()
    # Table cells are padded to their width; plain text has no use for trailing spaces.
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def _report(review: Review, s: Strings, width: int) -> Iterator[RenderableType]:
    yield from _headline(review, s)
    yield from _document(review, s)
    yield _section(s.labels["summary"])
    yield _summary(review, s)
    yield _section(s.labels["criteria"])
    for i, criterion in enumerate(review.criteria):
        if i:
            yield Text()
        yield from _criterion(review, criterion, s, width)
    yield from _red_flags(review, s)
    yield from _hidden(review, s)
    yield from _injection(review, s)
    yield from _footer(review, s)


def _headline(review: Review, s: Strings) -> Iterator[RenderableType]:
    """Verdict, score, biggest risks and scenario: what a sponsor reads first."""
    L = s.labels
    ov = review.overall
    style = VERDICT_STYLE[ov.verdict]
    yield Text.assemble((L["title"], "bold"), ": ", review.document.name)
    yield Text.assemble(
        (f"{L['verdict']}: ", "bold"),
        (s.verdict[ov.verdict], style),
        "   ",
        (f"{L['score']}: ", "bold"),
        (f"{ov.score} {L['out_of']}", style),
    )
    yield Text(L["risks"], style="bold")
    if ov.risks:
        yield _list(
            [
                Text.assemble(
                    (risk.title, "bold"),
                    f" ({risk.criterion})  ",
                    _level(risk.level, s),
                    f" — {risk.reason}",
                )
                for risk in ov.risks
            ],
            numbered=True,
        )
    else:
        yield _list([Text(L["no_risks"])])
    if ov.scenario_title:
        yield Text.assemble((f"{L['scenario']}: ", "bold"), (ov.scenario_title, "magenta"))
    if review.injection.detected:
        yield Panel(
            Text(injection_statement(review, s, headline=True)),
            title=Text(L["injection"], style="bold"),
            title_align="left",
            border_style="bold red",
            box=box.HEAVY,
        )
    if review.hidden:
        yield Panel(
            Text(hidden_headline(review, s)),
            title=Text(L["hidden"], style="bold"),
            title_align="left",
            border_style="bold red",
            box=box.HEAVY,
        )
    if not review.document.ai_related:
        yield Panel(Text(L["not_ai"]), border_style="yellow", box=box.HEAVY)
    if ov.reasons:
        yield Text(L["reasons"], style="bold")
        yield _list([Text(reason) for reason in ov.reasons])


def _document(review: Review, s: Strings) -> Iterator[RenderableType]:
    L = s.labels
    doc = review.document
    how = L["kind_detected"] if doc.kind_detected else L["kind_given"]
    yield _section(L["document"])
    yield _fields(
        [
            (L["name"], doc.name),
            (L["kind"], f"{s.kind[doc.kind]} ({how})"),
            (L["language"], s.language[doc.language]),
            (L["pages"], "—" if doc.pages is None else str(doc.pages)),
            (L["format"], doc.format),
            (L["blocks"], str(doc.blocks)),
            (L["sha256"], doc.sha256),
            (L["engine"], engine_name(review, s)),
            *llm_fields(review, s),
        ]
    )


def _summary(review: Review, s: Strings) -> Table:
    L = s.labels
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column(L["id"], no_wrap=True)
    table.add_column(L["criterion"])
    table.add_column(L["level"], no_wrap=True)
    table.add_column(L["source"], no_wrap=True)
    for c in review.criteria:
        table.add_row(c.id, c.title, _level(c.level, s), s.source[c.source])
    return table


def _criterion(
    review: Review, c: CriterionResult, s: Strings, width: int
) -> Iterator[RenderableType]:
    L = s.labels
    title = Text.assemble((c.id, "bold"), "  ", c.title, "  ", _level(c.level, s))
    rules = rules_level_note(c, s)
    # The rules' level stands beside the level, unless the rule would cut it off (it keeps
    # width - 2 cells for its title); then it opens the body.
    rules_beside = rules and title.cell_len + cell_len(rules) + 4 <= width - 2
    if rules_beside:
        title.append(f"  ({rules})", style="dim")
    yield Rule(
        title,
        align="left",
        characters="╌",
        style=LEVEL_STYLE[c.level],
    )
    body: list[RenderableType] = [
        Text(
            f"{L['chapter']}: {c.chapter} · {L['source']}: {s.source[c.source]}"
            f" · {L['weight']}: {c.weight:g}",
            style="dim",
        )
    ]
    if rules and not rules_beside:
        body.insert(0, Text(f"({rules})", style="dim"))
    samples = samples_note(c, s)
    if samples:
        body.append(Text(samples, style="dim"))
    if c.disagreement:
        body.append(
            Panel(
                Text(c.disagreement, style="bold red"),
                title=Text(f"⚠ {L['disagreement']}", style="bold red"),
                title_align="left",
                border_style="bold red",
                box=box.HEAVY,
            )
        )
    if c.fallback:
        body.append(Text.assemble((f"{L['fallback']}: ", "bold yellow"), (c.fallback, "yellow")))
    body.append(Text(L["evidence"], style="bold"))
    if c.evidence:
        body.append(_list([_quote(ev, review, s) for ev in c.evidence]))
    else:
        body.append(_list([Text(L["no_evidence"], style="dim")]))
    if c.aspects:
        marks = Text()
        for i, aspect in enumerate(c.aspects):
            if i:
                marks.append(" · ")
            st = STATUS_STYLE[aspect.status]
            marks.append(f"{STATUS_MARK[aspect.status]} {aspect.title}", style=st)
            marks.append(f" ({s.status[aspect.status]})", style="dim")
        body += [Text(L["aspects"], style="bold"), Padding(marks, (0, 0, 0, 2))]
    if c.findings:
        body.append(Text(L["findings"], style="bold"))
        body.append(
            _list(
                [
                    Text.assemble((f"[{s.status[f.status]}] ", STATUS_STYLE[f.status]), f.message)
                    for f in c.findings
                ]
            )
        )
    flags = lowering_flags(review, c)
    if flags:
        body.append(Text(L["lowered_by"], style="bold red"))
        body.append(_list([_flag(flag, review, s) for flag in flags]))
    if c.searched:
        body.append(Text.assemble((f"{L['searched']}: ", "bold"), (c.searched, "dim")))
    body.append(Text.assemble((f"{L['recommendation']}: ", "bold"), c.recommendation))
    if c.questions:
        body.append(Text(L["questions"], style="bold"))
        body.append(_list([Text(q) for q in c.questions], numbered=True))
    yield Padding(Group(*body), (0, 0, 0, 2))


def _red_flags(review: Review, s: Strings) -> Iterator[RenderableType]:
    L = s.labels
    yield _section(f"{L['red_flags']} ({len(review.red_flags)})", style="bold red")
    if review.red_flags:
        yield _list([_flag(flag, review, s) for flag in review.red_flags])
    else:
        yield _list([Text(L["no_red_flags"])])


def _hidden(review: Review, s: Strings) -> Iterator[RenderableType]:
    """Text a reader cannot see, when there is any."""
    if not review.hidden:
        return
    L = s.labels
    yield _section(f"{L['hidden']} ({len(review.hidden)})", style="bold red")
    yield Padding(Text(L["hidden_intro"], style="bold red"), (0, 0, 0, 2))
    yield _list([_hidden_item(item) for item in hidden_items(review, s)])


def _hidden_item(item: HiddenItem) -> Text:
    return Text.assemble(
        (item.kind, "bold red"),
        "\n",
        (f"“{item.quote}”", "italic"),
        "\n",
        (f"— {item.location}", "dim"),
    )


def _injection(review: Review, s: Strings) -> Iterator[RenderableType]:
    L = s.labels
    inj = review.injection
    yield _section(L["injection"], style="bold red" if inj.detected else "bold")
    if inj.detected:
        yield Padding(Text(injection_statement(review, s), style="bold red"), (0, 0, 0, 2))
    elif not inj.evidence:
        yield _list([Text(L["injection_none"])])
    if inj.evidence:
        yield _list([_quote(ev, review, s) for ev in inj.evidence])
    if inj.influenced:
        yield Padding(Text(L["injection_influenced"], style="bold red"), (0, 0, 0, 2))
        yield _list([Text(effect) for effect in injection_effects(review, s)])


def _footer(review: Review, s: Strings) -> Iterator[RenderableType]:
    L = s.labels
    yield _section(L["warnings"])
    yield _list([Text(w) for w in review.warnings] or [Text("—")])
    yield _section(L["usage"])
    yield _fields(usage_fields(review, s))
    yield Rule(style="dim")
    yield Text(
        f"{L['rubric_version']}: {review.rubric_version} · "
        f"{L['schema_version']}: {review.schema_version}",
        style="dim",
    )


def _section(title: str, style: str = "bold") -> Group:
    return Group(Text(), Rule(Text(title, style=style), align="left", characters="─"))


def _level(level: int, s: Strings) -> Text:
    return Text.assemble((level_bar(level), LEVEL_STYLE[level]), " ", s.level_name(level))


def _quote(ev: Evidence, review: Review, s: Strings) -> Text:
    return Text.assemble(
        (f"“{ev.quote}”", "italic"), "\n", (f"— {location(ev, review, s.lang)}", "dim")
    )


def _flag(flag: RedFlag, review: Review, s: Strings) -> Text:
    return Text.assemble(
        (flag.id, "bold red"),
        f" {flag.message}\n",
        (f"“{flag.quote}”", "italic"),
        "\n",
        (f"— {location(flag, review, s.lang)}", "dim"),
    )


def _list(items: list[Text], *, numbered: bool = False) -> Table:
    """Items with a hanging indent, so wrapped lines stay under their text."""
    grid = Table.grid(padding=(0, 1, 0, 0), pad_edge=False)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column()
    for i, item in enumerate(items, 1):
        grid.add_row(f"  {i}." if numbered else "  •", item)
    return grid


def _fields(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2, 0, 0), pad_edge=False)
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(f"  {key}", value)
    return grid
