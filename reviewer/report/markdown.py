"""GitHub-flavoured Markdown report; every text from the document or review is escaped."""

from __future__ import annotations

import re

from ..models import CriterionResult, Evidence, RedFlag, Review
from .labels import (
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

# Characters that start emphasis, code, links, raw HTML, entities, tables, strikethrough,
# math or headings anywhere in a line. A backslash before ASCII punctuation is always literal.
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|~&$])")
# Constructs that only count at the start of a line: list items, setext underlines, ordered lists.
_LINE_START = re.compile(r"^([-=])|^(\d+)([.)])", re.M)


def esc(text: str) -> str:
    """Text rendered literally by GitHub, whatever Markdown or HTML it contains."""
    text = _SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def inline(text: str) -> str:
    """Escaped and on one line, for list items, headings and table cells."""
    return esc(" ".join(text.split()))


def code(text: str) -> str:
    """A code span (ids), safe inside a table cell too."""
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def render_markdown(review: Review, s: Strings) -> str:
    """The report as GitHub-flavoured Markdown."""
    blocks: list[str] = []
    blocks += _headline(review, s)
    blocks += _document(review, s)
    blocks += _summary(review, s)
    blocks.append(f"## {esc(s.labels['criteria'])}")
    for c in review.criteria:
        blocks += _criterion(review, c, s)
    blocks += _red_flags(review, s)
    blocks += _hidden(review, s)
    blocks += _injection(review, s)
    blocks += _footer(review, s)
    return "\n\n".join(blocks) + "\n"


def _level(level: int, s: Strings) -> str:
    return f"{level_bar(level)} {esc(s.level_name(level))}"


def _headline(review: Review, s: Strings) -> list[str]:
    L = s.labels
    ov = review.overall
    out = [
        f"# {esc(L['title'])}: {inline(review.document.name)}",
        f"**{esc(L['verdict'])}:** {esc(s.verdict[ov.verdict])} · "
        f"**{esc(L['score'])}:** {ov.score} {esc(L['out_of'])}",
        f"**{esc(L['risks'])}**",
    ]
    if ov.risks:
        out.append(
            "\n".join(
                f"{i}. **{inline(r.title)}** ({code(r.criterion)}) "
                f"{_level(r.level, s)} — {inline(r.reason)}"
                for i, r in enumerate(ov.risks, 1)
            )
        )
    else:
        out.append(f"- {esc(L['no_risks'])}")
    if ov.scenario_title:
        out.append(f"**{esc(L['scenario'])}:** {inline(ov.scenario_title)}")
    if review.injection.detected:
        out.append(_alert("CAUTION", L["injection"], injection_statement(review, s, headline=True)))
    if review.hidden:
        out.append(_alert("CAUTION", L["hidden"], hidden_headline(review, s)))
    if not review.document.ai_related:
        out.append(_alert("WARNING", None, L["not_ai"]))
    if ov.reasons:
        out.append(f"**{esc(L['reasons'])}**")
        out.append(_bullets(ov.reasons))
    return out


def _document(review: Review, s: Strings) -> list[str]:
    L = s.labels
    doc = review.document
    how = L["kind_detected"] if doc.kind_detected else L["kind_given"]
    rows = [
        (L["name"], inline(doc.name)),
        (L["kind"], f"{esc(s.kind[doc.kind])} ({esc(how)})"),
        (L["language"], esc(s.language[doc.language])),
        (L["pages"], "—" if doc.pages is None else str(doc.pages)),
        (L["format"], esc(doc.format)),
        (L["blocks"], str(doc.blocks)),
        (L["sha256"], code(doc.sha256)),
        (L["engine"], esc(engine_name(review, s))),
        *((label, inline(value)) for label, value in llm_fields(review, s)),
    ]
    return [f"## {esc(L['document'])}", "\n".join(f"- **{esc(k)}:** {v}" for k, v in rows)]


def _summary(review: Review, s: Strings) -> list[str]:
    L = s.labels
    lines = [
        f"| {esc(L['id'])} | {esc(L['criterion'])} | {esc(L['level'])} | {esc(L['source'])} |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {code(c.id)} | {inline(c.title)} | {_level(c.level, s)} | {esc(s.source[c.source])} |"
        for c in review.criteria
    ]
    return [f"## {esc(L['summary'])}", "\n".join(lines)]


def _criterion(review: Review, c: CriterionResult, s: Strings) -> list[str]:
    L = s.labels
    rules = rules_level_note(c, s)
    samples = samples_note(c, s)
    out = [
        f"### {code(c.id)} {inline(c.title)} — {_level(c.level, s)}"
        + (f" ({esc(rules)})" if rules else ""),
        f"*{esc(L['chapter'])}: {inline(c.chapter)} · {esc(L['source'])}: "
        f"{esc(s.source[c.source])} · {esc(L['weight'])}: {c.weight:g}*",
    ]
    if samples:
        out.append(f"*{esc(samples)}*")
    if c.disagreement:
        out.append(_alert("WARNING", f"⚠ {L['disagreement']}", c.disagreement))
    if c.fallback:
        out.append(_alert("NOTE", L["fallback"], c.fallback))
    out.append(f"**{esc(L['evidence'])}**")
    if c.evidence:
        out += [_quote(ev, review, s) for ev in c.evidence]
    else:
        out.append(f"*{esc(L['no_evidence'])}*")
    if c.aspects:
        marks = " · ".join(
            f"{STATUS_MARK[a.status]} {inline(a.title)} ({esc(s.status[a.status])})"
            for a in c.aspects
        )
        out.append(f"**{esc(L['aspects'])}:** {marks}")
    if c.findings:
        out.append(f"**{esc(L['findings'])}**")
        out.append(
            "\n".join(f"- *{esc(s.status[f.status])}*: {inline(f.message)}" for f in c.findings)
        )
    flags = lowering_flags(review, c)
    if flags:
        out.append(f"**{esc(L['lowered_by'])}**")
        out.append("\n\n".join(_flag(flag, review, s) for flag in flags))
    if c.searched:
        out.append(f"**{esc(L['searched'])}:** {inline(c.searched)}")
    out.append(f"**{esc(L['recommendation'])}:** {inline(c.recommendation)}")
    if c.questions:
        out.append(f"**{esc(L['questions'])}**")
        out.append("\n".join(f"{i}. {inline(q)}" for i, q in enumerate(c.questions, 1)))
    return out


def _red_flags(review: Review, s: Strings) -> list[str]:
    L = s.labels
    out = [f"## {esc(L['red_flags'])} ({len(review.red_flags)})"]
    if review.red_flags:
        out.append("\n\n".join(_flag(flag, review, s) for flag in review.red_flags))
    else:
        out.append(esc(L["no_red_flags"]))
    return out


def _hidden(review: Review, s: Strings) -> list[str]:
    """Text a reader cannot see, when there is any."""
    if not review.hidden:
        return []
    L = s.labels
    items = [
        f"- **{inline(item.kind)}**\n\n" + _blockquote(item.quote, item.location, indent="  ")
        for item in hidden_items(review, s)
    ]
    return [
        f"## {esc(L['hidden'])} ({len(review.hidden)})",
        _alert("CAUTION", None, L["hidden_intro"]),
        "\n\n".join(items),
    ]


def _injection(review: Review, s: Strings) -> list[str]:
    L = s.labels
    inj = review.injection
    out = [f"## {esc(L['injection'])}"]
    if inj.detected:
        out.append(_alert("CAUTION", None, injection_statement(review, s)))
    elif not inj.evidence:
        out.append(esc(L["injection_none"]))
    out += [_quote(ev, review, s) for ev in inj.evidence]
    if inj.influenced:
        out.append(f"**{esc(L['injection_influenced'])}**")
        out.append(_bullets(injection_effects(review, s)))
    return out


def _footer(review: Review, s: Strings) -> list[str]:
    L = s.labels
    usage = usage_fields(review, s)
    return [
        f"## {esc(L['warnings'])}",
        _bullets(review.warnings) if review.warnings else "—",
        f"## {esc(L['usage'])}",
        "\n".join(
            [
                "| " + " | ".join(esc(label) for label, _ in usage) + " |",
                "|" + "---:|" * len(usage),
                "| " + " | ".join(value for _, value in usage) + " |",
            ]
        ),
        "---",
        f"*{esc(L['rubric_version'])}: {code(review.rubric_version)} · "
        f"{esc(L['schema_version'])}: {review.schema_version}*",
    ]


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {inline(item)}" for item in items)


def _blockquote(text: str, cite: str, indent: str = "") -> str:
    """A quote, line by line, with its location as the last line of the blockquote."""
    lines = [esc(line.strip()) for line in text.splitlines() if line.strip()] or [""]
    # A trailing backslash is a hard line break: the quote keeps its lines.
    lines = [line + "\\" for line in lines[:-1]] + [lines[-1], "", f"— *{inline(cite)}*"]
    return "\n".join(f"{indent}> {line}".rstrip() for line in lines)


def _quote(ev: Evidence, review: Review, s: Strings) -> str:
    return _blockquote(ev.quote, location(ev, review, s.lang))


def _flag(flag: RedFlag, review: Review, s: Strings) -> str:
    head = f"- {code(flag.id)} {inline(flag.message)}"
    return head + "\n\n" + _blockquote(flag.quote, location(flag, review, s.lang), indent="  ")


def _alert(kind: str, title: str | None, text: str) -> str:
    """A GitHub alert block (> [!CAUTION]); other renderers show it as a plain blockquote."""
    lines = [f"> [!{kind}]"]
    if title:
        lines.append(f"> **{esc(title)}**")
    lines.append(f"> {inline(text)}")
    return "\n".join(lines)
