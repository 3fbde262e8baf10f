"""The deterministic engine: rubric patterns over sentences and table rows, levels 0–3 with evidence.

A criterion is judged from the sentences that discuss it and how concretely they do:
- a unit (sentence, list item or table row) is *on topic* when it, a heading above it or its
  table header names the criterion, when it touches two of the criterion's aspects at once, or
  when it states one aspect together with the very detail that aspect needs;
- an aspect is *mentioned* by an on-topic unit that matches the aspect's patterns, and *concrete*
  when that unit also carries a signal the aspect needs (numbers with units, dates, owners,
  thresholds, frequencies, procedures, systems) and no deferral or name-only phrasing;
- the level counts concrete aspects, gathered in the section that says most about the
  criterion plus one from elsewhere; a commitment to the failure pattern itself (a red flag)
  brings it down, to 0 when nothing concrete was said.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick

from . import config
from .models import (
    AspectState,
    AspectStatus,
    Block,
    CriterionResult,
    Document,
    Evidence,
    Finding,
    Injection,
    RedFlag,
    ReportLanguage,
)
from .rubric import Criterion, Patterns, Rubric
from .text import _JA_CHAR, _LATIN_LETTER, normalize, split_sentences


@dataclass
class Unit:
    """A sentence or table row: the grain at which the rules judge."""

    index: int
    text: str  # original text, quoted to the user
    norm: str  # normalised text that signals are read from
    block: Block
    heading: int | None  # index of the unit holding the nearest heading
    header: str | None = None  # normalised table header row, if a table row


@dataclass
class Corpus:
    """All units of a document; each pattern set is run once, on the units that can match it."""

    units: list[Unit]
    index: LiteralIndex
    under_heading: dict[int, list[int]] = field(default_factory=dict)  # heading unit -> units below
    under_header: dict[str, list[int]] = field(default_factory=dict)  # table header -> its rows
    section_depth: int = 1  # the heading level that first divides the document into sections
    _hits: dict[int, dict[int, list[tuple[int, int]]]] = field(default_factory=dict)
    _header_hits: dict[tuple[int, str], bool] = field(default_factory=dict)

    def hits(self, patterns: Patterns) -> dict[int, list[tuple[int, int]]]:
        """Unit index -> match spans of a pattern set, memoised per pattern set.

        Units are visited in the index's candidate order, which fixes the order of the result
        (red flags are reported in it).
        """
        key = id(patterns)
        found = self._hits.get(key)
        if found is not None:
            return found
        found = {}
        norms = self.index.norms
        for compiled in patterns.compiled:
            candidates: Iterable[int] = self.index.candidates(compiled.options, compiled.lang)
            if not candidates:
                continue
            if compiled.unindexed:
                has_them = compiled.unindexed_check.match
                candidates = [i for i in candidates if has_them(norms[i])]
                if not candidates:
                    continue  # (and the pattern is not even compiled)
            regex = compiled.regex
            search = regex.search
            for i in candidates:
                norm = norms[i]
                # Most candidates do not match: one search says so, cheaper than a finditer.
                m = search(norm)
                if m is None:
                    continue
                spans = match_spans(regex, norm, m)
                known = found.get(i)
                if known is None:
                    found[i] = spans
                else:
                    known.extend(spans)
        self._hits[key] = found
        return found

    def header_matches(self, patterns: Patterns, header: str) -> bool:
        """Does the pattern set match a table's header row? Memoised per header."""
        key = (id(patterns), header)
        if key not in self._header_hits:
            self._header_hits[key] = patterns.search(header)
        return self._header_hits[key]


_EMPTY: frozenset[int] = frozenset()
_NONE: dict[str, list[tuple[int, int]]] = {}
_NO_ASPECTS: list[int] = []  # never modified


def match_spans(regex: re.Pattern[str], text: str, first: re.Match[str]) -> list[tuple[int, int]]:
    """`[m.span() for m in regex.finditer(text)]`, given the first match `regex.search(text)`.

    After a non-empty match finditer searches on from its end (look-behinds still see the text
    before it, and an empty match there is allowed), which is what a search from that position
    does; after an empty match it must advance, so that case starts over.
    """
    start, end = first.span()
    if end == start:
        return [m.span() for m in regex.finditer(text)]
    return [(start, end), *(m.span() for m in regex.finditer(text, end))]


class LiteralIndex:
    """Which units contain which of the rubric's required literals, found in one Aho-Corasick pass."""

    _automata: dict[int, ahocorasick.Automaton] = {}

    def __init__(self, units: list[Unit], rubric: Rubric):
        self.norms: list[str] = [unit.norm for unit in units]
        ja: set[int] = set()
        en: set[int] = set()
        for i, norm in enumerate(self.norms):  # as scripts(), without building its frozenset
            if _JA_CHAR.search(norm):
                ja.add(i)
            if _LATIN_LETTER.search(norm):
                en.add(i)
        self.script: dict[str, set[int]] = {"ja": ja, "en": en}
        found = self._automaton(rubric).iter
        where: dict[str, set[int]] = {}
        # Each set is filled in unit order, as candidates() expects (its order is the result's).
        for i, norm in enumerate(self.norms):
            for _, literal in found(norm):
                units = where.get(literal)
                if units is None:
                    where[literal] = {i}
                else:
                    units.add(i)
        self.where = where

    def candidates(self, options: tuple[frozenset[str], ...], lang: str) -> Iterable[int]:
        """Units in the pattern's script that contain a string of every option set: the only
        ones the pattern can match. Japanese patterns never see English-only sentences (so a
        Japanese list's "ai" cannot match inside "maintain"), nor English patterns Japanese ones."""
        found: set[int] = self.script[lang]
        for literals in options:
            units: set[int] = set()
            for literal in literals:
                units |= self.where.get(literal, _EMPTY)
            found = found & units
            if not found:
                break
        return found

    @classmethod
    def _automaton(cls, rubric: Rubric) -> ahocorasick.Automaton:
        key = id(rubric)
        if key not in cls._automata:
            automaton = ahocorasick.Automaton()
            for patterns in rubric.all_patterns():
                for compiled in patterns.compiled:
                    for literal in set().union(*compiled.options):
                        automaton.add_word(literal, literal)
            automaton.make_automaton()
            cls._automata[key] = automaton
        return cls._automata[key]


_BARE_NUMBER = re.compile(r"^[~約]?\s*\d[\d,.]*\s*$")
_MARKER = re.compile(r"^\s*([raci]([/,・ ]?[raci])*|[○◎●✓✔〇])\s*$")
_HEADER_UNIT = re.compile(r"[(\[]\s*([^()\[\],;\s]{1,8})[^()\[\]]{0,24}[)\]]\s*$")
# A column headed by a party ("当社", "vendor") says who does what in its short cells.
_PARTY = re.compile(
    r"^(当社|自社|発注者|弊社|貴社|御社|ベンダー|委託先|受託者|受注者|委託者|甲|乙|client|customer|supplier|vendor|contractor|agency|buyer)(側)?$"
)


# A unit declared for a whole table in its heading or caption: 「所要経費（単位：万円）」, "(EUR thousands)".
_DECLARED_UNIT = re.compile(
    r"単位\s*:?\s*(百万円|千円|万円|億円|円|千ドル|ドル|ユーロ)"
    r"|(?<![a-z])(?:in|unit:?|units:?|amounts? in|figures in)\s+(?:thousands? of\s+)?"
    r"(eur|usd|gbp|jpy|chf|aud|cad|euros?|dollars?|pounds?|yen|[€$£¥])(?![a-z])"
    r"|\(\s*(eur|usd|gbp|jpy|chf|aud|cad|[€$£¥])\s*(?:k|'?000s?|thousands?|millions?|m)?\s*\)"
    r"|(?<![a-z])(eur|usd|gbp|jpy|chf|aud|cad|[€$£¥])\s*(?:k|'000s?|000s|thousands?|millions?|m)\s*[)\]]"
)
# A column that counts something: a bare number in it is a count of what the header names.
_COUNT_HEAD = re.compile(
    r"^(?:(?:number of |no\. of |# ?)?(users?|people|persons|staff|headcount|agents?|employees|"
    r"participants|sites?|stores?|branches?|teams?|departments?|offices?|cases?|documents?)|"
    r"(人数|利用者数|対象者数|ユーザー数|参加者数|要員数|拠点数|店舗数|部署数|件数))$"
)
_COUNT_UNIT = {
    "人数": "名",
    "利用者数": "名",
    "対象者数": "名",
    "ユーザー数": "名",
    "参加者数": "名",
    "要員数": "名",
    "拠点数": "拠点",
    "店舗数": "店舗",
    "部署数": "部署",
    "件数": "件",
}
_CELL_SEP = re.compile(r" ?\|(?: |$)")
_SYMBOL_CODE = {"€": "eur", "$": "usd", "£": "gbp", "¥": "jpy"}


def _declared_unit(text: str) -> str | None:
    found = _DECLARED_UNIT.search(text)
    if not found:
        return None
    unit = next(g for g in found.groups() if g)
    return _SYMBOL_CODE.get(unit, unit)


def _with_header_units(row: str, header: str, declared: str | None = None) -> str:
    """Read a cell with its column header where the cell alone says nothing.

    A bare number takes the unit the header names (「金額(千円)」 over 「2,100」 reads 2,100千円), or else
    the unit declared for the whole table (「単位：万円」 in its heading or caption), or the noun of
    a count column (「Users」 over 「300」 reads 300 users), and a RACI letter or a check mark takes
    the header's role (「業務部」 over 「A/R」 reads 業務部:a/r).
    """
    # 「a | b |」: a last cell left empty loses its trailing space in normalisation
    cells, heads = _CELL_SEP.split(row), _CELL_SEP.split(header)
    if len(cells) != len(heads):
        return row
    original = list(cells)
    for i, (cell, head) in enumerate(zip(cells, heads, strict=True)):
        unit = _HEADER_UNIT.search(head)
        count = _COUNT_HEAD.match(head.strip())
        if _BARE_NUMBER.match(cell) and (unit or declared):
            cells[i] = f"{cell.strip()}{unit.group(1) if unit else declared}"
        elif _BARE_NUMBER.match(cell) and count:
            noun = count.group(1) or _COUNT_UNIT[count.group(2)]
            cells[i] = f"{cell.strip()} {noun}" if count.group(1) else f"{cell.strip()}{noun}"
        elif head.strip() and (
            _MARKER.match(cell) or (_PARTY.match(head.strip()) and 0 < len(cell.strip()) <= 20)
        ):
            cells[i] = f"{head.strip()}:{cell.strip()}"
    if cells == original:
        return row
    return re.sub(r"\s+", " ", " | ".join(cells)).strip()


def build_corpus(doc: Document, rubric: Rubric) -> Corpus:
    """Split blocks into units and normalise them once."""
    units: list[Unit] = []
    heading: int | None = None
    headers: dict[str, str] = {}
    declared: str | None = None  # a unit declared in the current heading or a caption under it
    for block in doc.blocks:
        if block.kind == "table_row":
            header = None
            norm = normalize(block.text)
            if block.header:
                header = headers.setdefault(block.header, normalize(block.header))
                norm = _with_header_units(norm, header, declared)
            units.append(Unit(len(units), block.text, norm, block, heading, header))
            continue
        if block.kind == "heading":
            units.append(Unit(len(units), block.text, normalize(block.text), block, heading))
            heading = len(units) - 1
            declared = _declared_unit(units[-1].norm)
            continue
        declared = _declared_unit(normalize(block.text)) or declared
        for sentence in split_sentences(block.text):
            units.append(Unit(len(units), sentence, normalize(sentence), block, heading))
    corpus = Corpus(units, LiteralIndex(units, rubric), section_depth=_section_depth(doc))
    for unit in units:
        if unit.heading is not None:
            corpus.under_heading.setdefault(unit.heading, []).append(unit.index)
        if unit.header:
            corpus.under_header.setdefault(unit.header, []).append(unit.index)
    return corpus


def _section_depth(doc: Document) -> int:
    """The first heading level with two or more distinct headings: under a single title heading,
    the document's sections are one level down."""
    paths = [b.location.section for b in doc.blocks if b.location.section]
    deepest = max((len(p) for p in paths), default=1)
    for depth in range(1, deepest + 1):
        if len({tuple(p[:depth]) for p in paths if len(p) >= depth}) > 1:
            return depth
    return deepest


@dataclass
class Engine:
    """The rubric compiled against one document."""

    rubric: Rubric
    corpus: Corpus
    kind: str
    lang: ReportLanguage

    _signals: dict[int, dict[str, list[tuple[int, int]]]] | None = None
    _vague: dict[int, list[tuple[int, int]]] | None = None
    _sections: dict[tuple[int, tuple[str, ...]], bool] = field(default_factory=dict)
    _block_sections: dict[tuple[int, int], bool] = field(default_factory=dict)

    def signals(self, unit: Unit) -> dict[str, list[tuple[int, int]]]:
        """Kinds of concrete detail in the unit itself (never its heading or table header), with spans."""
        if self._signals is None:
            table: dict[int, dict[str, list[tuple[int, int]]]] = {}
            for sig in self.rubric.signals.signals:
                for i, spans in self.corpus.hits(sig.patterns).items():
                    found = table.get(i)
                    if found is None:
                        table[i] = {sig.kind: list(spans)}
                    else:
                        found.setdefault(sig.kind, []).extend(spans)
            self._signals = table
        return self._signals.get(unit.index, _NONE)

    def concrete_signals(self, unit: Unit, own: list[tuple[int, int]]) -> set[str]:
        """Signal kinds found outside the criterion's own words, so 「データオーナー」 is not its own owner."""
        found = self.signals(unit)
        if not own:
            return set(found)
        out = set()
        for kind, spans in found.items():
            for s, e in spans:
                for a, b in own:
                    if s >= a and e <= b:
                        break  # this span lies inside the criterion's words
                else:
                    out.add(kind)
                    break
        return out

    def is_vague(self, unit: Unit) -> bool:
        if self._vague is None:
            self._vague = self.corpus.hits(self.rubric.signals.vague)
        return unit.index in self._vague

    def negated(self, unit: Unit, start: int, end: int) -> bool:
        """Is a red-flag phrase rejected ("not a big-bang rollout", 「完全自動化ではなく」)?"""
        sig = self.rubric.signals
        before, after = unit.norm[max(0, start - 40) : start], unit.norm[end : end + 30]
        return bool(
            (sig.negation_before.regex and sig.negation_before.regex.search(before))
            or (sig.negation_after.regex and sig.negation_after.regex.search(after))
        )

    def red_flags(self, crit: Criterion) -> list[tuple[str, str, Unit]]:
        """(flag id, message, unit) for every non-negated commitment to the failure pattern."""
        out = []
        for flag in crit.red_flags:
            if flag.kinds and self.kind not in flag.kinds:
                continue
            for i, spans in self.corpus.hits(flag.patterns).items():
                unit = self.corpus.units[i]
                if any(not self.negated(unit, s, e) for s, e in spans):
                    out.append((flag.id, flag.message(self.lang), unit))
        return out

    def judge(self, crit: Criterion, weight: float) -> tuple[CriterionResult, list[RedFlag]]:
        """Level, evidence and findings for one criterion."""
        lang = self.lang
        corpus = self.corpus
        topic_hits = corpus.hits(crit.topic)
        aspect_hits = [corpus.hits(a.patterns) for a in crit.aspects]
        flags = self.red_flags(crit)
        flagged = {unit.index for _, _, unit in flags}
        mentioned: dict[str, list[Unit]] = {a.id: [] for a in crit.aspects}
        concrete: dict[str, list[tuple[Unit, int]]] = {a.id: [] for a in crit.aspects}
        topic_units: list[Unit] = []
        in_unit_map: dict[int, list[int]] = {}
        for i, hits in enumerate(aspect_hits):
            for u in hits:
                in_unit_map.setdefault(u, []).append(i)
        # Units under a heading, or in a table, that names the topic or an aspect count too.
        relevant = set(topic_hits) | set(in_unit_map)
        for h in corpus.under_heading.keys() & relevant:
            relevant.update(corpus.under_heading[h])
        for header, members in corpus.under_header.items():
            if corpus.header_matches(crit.topic, header) or any(
                corpus.header_matches(a.patterns, header) for a in crit.aspects
            ):
                relevant.update(members)
        contexts: dict[tuple[int | None, str | None], tuple[bool, list[int]]] = {}
        on_topic_at: set[int] = set()  # units found on the topic so far
        on_topic_in: set[int] = set()  # (ids of) their blocks
        for index in sorted(relevant):
            unit = corpus.units[index]
            key = (unit.heading, unit.header)
            if key not in contexts:
                contexts[key] = self._context(crit, unit, topic_hits, aspect_hits)
            topic_in_ctx, in_ctx_all = contexts[key]
            in_unit = in_unit_map.get(index, _NO_ASPECTS)
            in_ctx = [i for i in in_ctx_all if i not in in_unit] if in_ctx_all else _NO_ASPECTS
            touched = len(in_unit) + len(in_ctx)  # aspects, its own or its heading's
            on_topic = (
                index in topic_hits
                or topic_in_ctx
                or self._leading(crit, in_unit, in_ctx) >= 2
                # supporting aspects count beside a unit on the topic: the sentence after it or
                # another in its paragraph ("It is measured weekly from the ticket log.")
                or (touched >= 2 and (index - 1 in on_topic_at or id(unit.block) in on_topic_in))
                or self._in_topic_section(crit, unit)
                or self._concrete_alone(crit, unit, in_unit, aspect_hits)
            )
            if not on_topic:
                continue
            on_topic_at.add(index)
            on_topic_in.add(id(unit.block))
            topic_units.append(unit)
            if unit.block.kind == "heading" or not (in_unit or in_ctx):
                continue  # a heading names a topic; its content is what follows
            # A sentence committing to the failure pattern earns no credit for the same criterion.
            vague = unit.index in flagged or self.is_vague(unit)
            topic_spans = topic_hits.get(unit.index, [])
            for i in in_unit + in_ctx:
                aspect = crit.aspects[i]
                mentioned[aspect.id].append(unit)
                if vague:
                    continue
                signals = self.concrete_signals(
                    unit, aspect_hits[i].get(unit.index, []) + topic_spans
                )
                needed = set(aspect.needs) if aspect.needs else signals
                if signals & needed:
                    concrete[aspect.id].append((unit, len(signals)))

        n_concrete = _gathered(concrete, corpus.section_depth)
        level = 0
        if n_concrete >= crit.needed_for(3):
            level = 3
        elif n_concrete >= crit.needed_for(2):
            level = 2
        elif any(u.index not in flagged for u in topic_units) or any(
            u.index not in flagged for units in mentioned.values() for u in units
        ):
            level = 1  # (a flagged sentence alone is no mention: it is the failure pattern)

        if flags:
            # A commitment to the failure pattern leaves nothing to credit; a warning sign seen in
            # minutes (flags kept to progress reports, or words a participant is reported to have
            # said) is an observation and costs one level.
            if all(self._observed(crit, fid, unit) for fid, _, unit in flags):
                level = max(level - 1, 1) if level >= 1 else 0
            else:
                level = 0 if level <= 1 else level - 1

        evidence = self._evidence(crit, concrete, mentioned, topic_units, flags)
        aspects, findings = self._aspects(crit, concrete, mentioned)
        red = [
            RedFlag(
                id=fid,
                criterion=crit.id,
                quote=unit.text,
                location=unit.block.location.label(lang),
                where=unit.block.location,
                message=msg,
            )
            for fid, msg, unit in flags
        ]
        searched = None
        if level == 0 and not flags:
            searched = self._searched(crit)
        questions = crit.questions.vendor if self.kind == "vendor_sow" else crit.questions.author
        result = CriterionResult(
            id=crit.id,
            title=crit.title(lang),
            chapter=f"{crit.chapter.number}. {crit.chapter.title(lang)}",
            level=level,
            weight=weight,
            evidence=evidence,
            findings=findings,
            aspects=aspects,
            red_flags=sorted({f.id for f in red}),
            recommendation=crit.recommendation(lang),
            questions=[q(lang) for q in questions] if level < 3 else [],
            searched=searched,
        )
        return result, red

    def _observed(self, crit: Criterion, flag_id: str, unit: Unit) -> bool:
        """Is the flagged sentence a warning sign the report records rather than a commitment?"""
        rule = next(f for f in crit.red_flags if f.id == flag_id)
        if rule.kinds == ["progress_report"]:
            return True
        if self.kind != "progress_report":
            return False
        speech = self.corpus.hits(self.rubric.signals.reported_speech)
        if unit.index in speech:
            return True
        # 「…」との意見があった may close a quote that began in an earlier sentence of the paragraph
        units = self.corpus.units
        after = units[unit.index + 1] if unit.index + 1 < len(units) else None
        return after is not None and after.index in speech and after.block is unit.block

    def _in_topic_section(self, crit: Criterion, unit: Unit) -> bool:
        """Does any heading above the unit (not only the nearest) name the topic?"""
        by_block = (id(crit.topic), id(unit.block))  # the sentences of a block share its answer
        found = self._block_sections.get(by_block)
        if found is None:
            section = unit.block.location.section
            if not section:
                found = False
            else:
                key = (id(crit.topic), tuple(section))
                if key not in self._sections:
                    self._sections[key] = crit.topic.search(normalize(" / ".join(section)))
                found = self._sections[key]
            self._block_sections[by_block] = found
        return found

    @staticmethod
    def _leading(crit: Criterion, in_unit: list[int], in_ctx: list[int]) -> int:
        """How many aspects that can place a unit on the topic (not supporting ones) it touches."""
        return sum(not crit.aspects[i].supporting for i in (*in_unit, *in_ctx))

    def _concrete_alone(
        self, crit: Criterion, unit: Unit, in_unit: list[int], aspect_hits: list[dict]
    ) -> bool:
        """One aspect stated with the very detail it needs is on topic without naming the topic:
        writers rarely say "KPI" before "handling time falls from 14 to 6 minutes"."""
        if not in_unit or self.is_vague(unit):
            return False
        for i in in_unit:
            if crit.aspects[i].supporting:
                continue
            signals = self.concrete_signals(unit, aspect_hits[i].get(unit.index, []))
            needed = set(crit.aspects[i].needs) or signals
            if signals & needed:
                return True
        return False

    def _context(
        self, crit: Criterion, unit: Unit, topic_hits: dict, aspect_hits: list[dict]
    ) -> tuple[bool, list[int]]:
        """Does the unit's heading or table header name the topic, and which aspects does it name?"""
        topic = False
        aspects: set[int] = set()
        if unit.heading is not None:
            topic = unit.heading in topic_hits
            aspects = {i for i, hits in enumerate(aspect_hits) if unit.heading in hits}
        if unit.header:
            topic = topic or self.corpus.header_matches(crit.topic, unit.header)
            aspects |= {
                i
                for i, a in enumerate(crit.aspects)
                if self.corpus.header_matches(a.patterns, unit.header)
            }
        return topic, sorted(aspects)

    def _evidence(
        self,
        crit: Criterion,
        concrete: dict[str, list[tuple[Unit, int]]],
        mentioned: dict[str, list[Unit]],
        topic_units: list[Unit],
        flags: list[tuple[str, str, Unit]],
    ) -> list[Evidence]:
        """The decisive units: those covering the most concrete aspects, then flags, then mentions."""
        chosen: list[tuple[Unit, str | None, bool]] = []
        seen: set[int] = set()
        covered: set[str] = set()
        # Greedy cover: each pick adds the most not-yet-covered concrete aspects.
        by_unit: dict[int, tuple[Unit, set[str], int]] = {}
        for aid, items in concrete.items():
            for unit, strength in items:
                _, aspects, _ = by_unit.setdefault(unit.index, (unit, set(), strength))
                aspects.add(aid)
        while by_unit and len(chosen) < config.MAX_EVIDENCE:
            idx, (unit, aspects, strength) = max(
                by_unit.items(), key=lambda kv: (len(kv[1][1] - covered), kv[1][2], -kv[0])
            )
            if not aspects - covered:
                break
            first = next(a.id for a in crit.aspects if a.id in aspects - covered)
            chosen.append((unit, first, True))
            covered |= aspects
            seen.add(idx)
            del by_unit[idx]
        for _, _, unit in flags:
            if unit.index not in seen and len(chosen) < config.MAX_EVIDENCE + 1:
                chosen.append((unit, None, False))
                seen.add(unit.index)
        if not covered:
            for aid, units in mentioned.items():
                for unit in units[:1]:
                    if unit.index not in seen and len(chosen) < 2:
                        chosen.append((unit, aid, False))
                        seen.add(unit.index)
            for unit in topic_units:
                if unit.index not in seen and len(chosen) < 2 and unit.block.kind != "heading":
                    chosen.append((unit, None, False))
                    seen.add(unit.index)
        chosen.sort(key=lambda c: c[0].index)
        return [
            Evidence(
                quote=unit.text,
                location=unit.block.location.label(self.lang),
                where=unit.block.location,
                aspect=aid,
                concrete=conc,
            )
            for unit, aid, conc in chosen
        ]

    def _aspects(
        self, crit: Criterion, concrete: dict[str, list], mentioned: dict[str, list[Unit]]
    ) -> tuple[list[AspectStatus], list[Finding]]:
        lang = self.lang
        kinds = {s.kind: s.title(lang) for s in self.rubric.signals.signals}
        statuses, findings = [], []
        for aspect in crit.aspects:
            title = aspect.title(lang)
            if concrete[aspect.id]:
                statuses.append(AspectStatus(id=aspect.id, title=title, status="concrete"))
                continue
            status: AspectState = "vague" if mentioned[aspect.id] else "missing"
            statuses.append(AspectStatus(id=aspect.id, title=title, status=status))
            wanted = " / ".join(kinds[k] for k in aspect.needs) if aspect.needs else None
            findings.append(aspect_finding(aspect.id, title, status, lang, wanted))
        return statuses, findings

    def _searched(self, crit: Criterion) -> str:
        """Say what was looked for and where, so 'absent' can be told from 'not found by us'."""
        units = self.corpus.units
        tables = len({u.block.location.table for u in units if u.block.location.table is not None})
        parts = sorted({u.block.location.part for u in units})
        terms = "; ".join(
            [crit.topic.examples(self.lang, 6)]
            + [f"{a.title(self.lang)}: {a.patterns.examples(self.lang, 2)}" for a in crit.aspects]
        )
        if self.lang == "ja":
            where = f"{len(units)}文・表行（表{tables}個、{'・'.join(parts)}）"
            return f"{where}を検索：{terms} — 該当なし"
        where = f"{len(units)} sentences and table rows ({tables} tables; {', '.join(parts)})"
        return f"Searched {where} for: {terms} — none found"


def _gathered(concrete: dict[str, list[tuple[Unit, int]]], depth: int) -> int:
    """How many aspects are concrete, counted where the criterion is discussed: those in the
    section that says most about it (its subsections included), and at most one more from
    anywhere else. A long document's stray concrete sentences, one per section, do not add up to
    a plan; a short passage, in one section, is counted whole. `depth` is the heading level that
    divides the document into sections (2 under a single title heading)."""
    under: dict[tuple[str, ...], set[str]] = {}
    for aspect, items in concrete.items():
        for unit, _ in items:
            under.setdefault(tuple(unit.block.location.section[:depth]), set()).add(aspect)
    found = sum(1 for items in concrete.values() if items)
    if not under:
        return 0
    return min(found, max(map(len, under.values())) + config.SCATTERED_ASPECTS)


def aspect_finding(
    aspect: str, title: str, status: AspectState, lang: ReportLanguage, wanted: str | None = None
) -> Finding:
    """The finding for an aspect left vague or missing (both engines word it the same way);
    `wanted` names the kinds of detail it needs."""
    if status == "vague":
        if lang == "ja":
            msg = f"{title}：言及はあるが具体性がない" + (f"（{wanted}がない）" if wanted else "")
        else:
            msg = f"{title}: mentioned, but not concretely" + (f" (no {wanted})" if wanted else "")
    else:
        msg = f"{title}：記載が見当たらない" if lang == "ja" else f"{title}: not found"
    return Finding(aspect=aspect, status=status, message=msg)  # type: ignore[arg-type]


def detect_kind(corpus: Corpus, rubric: Rubric) -> str:
    """The document kind with the strongest title and body evidence; 'proposal' when none."""
    scores: Counter[str] = Counter()
    titled: Counter[str] = Counter()  # hits in the title and cover: they break a tie
    lead = _lead(corpus)
    for kind, rule in rubric.settings.kinds.items():
        hints = 0
        for i in corpus.hits(rule.title):
            heading = corpus.units[i].block.kind == "heading"
            # The title (the first unit, or a heading among the first) names the kind; a cover
            # line ("作成：PoC事務局") or an early section heading ("2-1. PoCの実施状況") hints at it.
            if i in lead and (i == 0 or heading):
                titled[kind] += 1
            elif i in lead or heading and i < 40:
                hints += 1
        scores[kind] += 6 * titled[kind] + hints + min(5, len(corpus.hits(rule.body)))
    best, score = max(scores.items(), key=lambda kv: (kv[1], titled[kv[0]], kv[0] == "proposal"))
    return best if score > 0 else "proposal"


def _lead(corpus: Corpus) -> set[int]:
    """The title and cover: the first five units, up to the second heading (the first section)."""
    headings = 0
    for unit in corpus.units[:5]:
        if unit.block.kind == "heading":
            headings += 1
            if headings == 2:
                return set(range(unit.index))
    return set(range(min(5, len(corpus.units))))


def is_ai_related(corpus: Corpus, rubric: Rubric) -> bool:
    """Whether the document is about an AI system; a short passage cannot show it is not.

    Two sentences naming AI are enough: a vendor's SOW may name its models once and then speak of
    its product by brand."""
    return len(corpus.units) < 15 or len(corpus.hits(rubric.settings.ai_terms)) >= 2


def detect_injection(engine: Engine) -> Injection:
    """Text addressed to an AI reviewer; reported, never obeyed."""
    hits = engine.corpus.hits(engine.rubric.settings.injection)
    evidence = [
        Evidence(
            quote=engine.corpus.units[i].text,
            location=engine.corpus.units[i].block.location.label(engine.lang),
            where=engine.corpus.units[i].block.location,
        )
        for i in sorted(hits)
    ]
    return Injection(detected=bool(evidence), evidence=evidence)
