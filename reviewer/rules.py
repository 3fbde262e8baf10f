"""The deterministic engine: rubric patterns over sentences and table rows, levels 0–3 with evidence.

A criterion is judged from the sentences that discuss it and how concretely they do:
- a unit (sentence, list item or table row) is *on topic* when it, its heading or its table
  header names the criterion, or when it touches two of the criterion's aspects at once;
- an aspect is *mentioned* by an on-topic unit that matches the aspect's patterns, and *concrete*
  when that unit also carries a signal the aspect needs (numbers with units, dates, owners,
  thresholds, frequencies, procedures, systems) and no deferral or name-only phrasing;
- the level counts concrete aspects; a commitment to the failure pattern itself (a red flag)
  brings it down, to 0 when nothing concrete was said.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

from . import config
from .models import (
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
from .text import normalize, split_sentences


@dataclass
class Unit:
    """A sentence or table row: the grain at which the rules judge."""

    index: int
    text: str  # original text, quoted to the user
    norm: str  # normalised text that signals are read from
    block: Block
    heading: int | None  # index of the unit holding the nearest heading
    header: str | None = None  # normalised table header row, if a table row


# Units are matched as one string; the joiner holds both sentence stops so that bounded gaps such
# as [^。]{0,20} or [^.]{0,30} cannot run from one unit into the next.
_JOINER = "\n。.\n"


@dataclass
class Corpus:
    """All units of a document, with every pattern's hits computed in one pass per pattern."""

    units: list[Unit]
    joined: str = ""
    starts: list[int] = field(default_factory=list)
    _hits: dict[int, dict[int, list[tuple[int, int]]]] = field(default_factory=dict)
    _header_hits: dict[tuple[int, str], bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pos = 0
        for unit in self.units:
            self.starts.append(pos)
            pos += len(unit.norm) + len(_JOINER)
        self.joined = _JOINER.join(u.norm for u in self.units)

    def hits(self, regex: re.Pattern[str] | None) -> dict[int, list[tuple[int, int]]]:
        """Unit index -> match spans (relative to the unit) of a regex, memoised per regex."""
        if regex is None:
            return {}
        key = id(regex)
        if key not in self._hits:
            found: dict[int, list[tuple[int, int]]] = {}
            for m in regex.finditer(self.joined):
                i = bisect_right(self.starts, m.start()) - 1
                base = self.starts[i]
                if m.end() <= base + len(self.units[i].norm):  # ignore matches across units
                    found.setdefault(i, []).append((m.start() - base, m.end() - base))
            self._hits[key] = found
        return self._hits[key]

    def in_context(self, regex: re.Pattern[str] | None, unit: Unit) -> bool:
        """Does the regex match the unit's heading or table header?"""
        if regex is None:
            return False
        if unit.heading is not None and unit.heading in self.hits(regex):
            return True
        if unit.header:
            key = (id(regex), unit.header)
            if key not in self._header_hits:
                self._header_hits[key] = regex.search(unit.header) is not None
            return self._header_hits[key]
        return False


_BARE_NUMBER = re.compile(r"^[~約]?\s*\d[\d,.]*\s*$")
_MARKER = re.compile(r"^\s*([raci]([/,・ ]?[raci])*|[○◎●✓✔〇])\s*$")
_HEADER_UNIT = re.compile(r"[(\[]([^()\[\]]{1,8})[)\]]\s*$")


def _with_header_units(row: str, header: str) -> str:
    """Read a cell with its column header where the cell alone says nothing.

    A bare number takes the unit the header names (「金額(千円)」 over 「2,100」 reads 2,100千円), and a
    RACI letter or a check mark takes the header's role (「業務部」 over 「A/R」 reads 業務部:a/r).
    """
    cells, heads = row.split(" | "), header.split(" | ")
    if len(cells) != len(heads):
        return row
    for i, (cell, head) in enumerate(zip(cells, heads, strict=True)):
        unit = _HEADER_UNIT.search(head)
        if unit and _BARE_NUMBER.match(cell):
            cells[i] = f"{cell.strip()}{unit.group(1)}"
        elif _MARKER.match(cell) and head.strip():
            cells[i] = f"{head.strip()}:{cell.strip()}"
    return " | ".join(cells)


def build_corpus(doc: Document) -> Corpus:
    """Split blocks into units and normalise them once."""
    units: list[Unit] = []
    heading: int | None = None
    headers: dict[str, str] = {}
    for block in doc.blocks:
        if block.kind == "table_row":
            header = None
            norm = normalize(block.text)
            if block.header:
                header = headers.setdefault(block.header, normalize(block.header))
                norm = _with_header_units(norm, header)
            units.append(Unit(len(units), block.text, norm, block, heading, header))
            continue
        if block.kind == "heading":
            units.append(Unit(len(units), block.text, normalize(block.text), block, heading))
            heading = len(units) - 1
            continue
        for sentence in split_sentences(block.text):
            units.append(Unit(len(units), sentence, normalize(sentence), block, heading))
    return Corpus(units)


@dataclass
class Engine:
    """The rubric compiled against one document."""

    rubric: Rubric
    corpus: Corpus
    kind: str
    lang: ReportLanguage

    _signals: dict[int, dict[str, list[tuple[int, int]]]] = field(default_factory=dict)

    def signals(self, unit: Unit) -> dict[str, list[tuple[int, int]]]:
        """Kinds of concrete detail in the unit itself (never its heading or table header), with spans."""
        if unit.index not in self._signals:
            found: dict[str, list[tuple[int, int]]] = {}
            for sig in self.rubric.signals.signals:
                spans = self.corpus.hits(sig.patterns.regex).get(unit.index)
                if spans:
                    found.setdefault(sig.kind, []).extend(spans)
            self._signals[unit.index] = found
        return self._signals[unit.index]

    def concrete_signals(self, unit: Unit, own: list[tuple[int, int]]) -> set[str]:
        """Signal kinds found outside the criterion's own words, so 「データオーナー」 is not its own owner."""
        out = set()
        for kind, spans in self.signals(unit).items():
            if any(not any(s >= a and e <= b for a, b in own) for s, e in spans):
                out.add(kind)
        return out

    def is_vague(self, unit: Unit) -> bool:
        return unit.index in self.corpus.hits(self.rubric.signals.vague.regex)

    def negated(self, unit: Unit, start: int, end: int) -> bool:
        sig = self.rubric.signals
        before, after = unit.norm[max(0, start - 40) : start], unit.norm[end : end + 30]
        return bool(
            (sig.negation_before.regex and sig.negation_before.regex.search(before))
            or (sig.negation_after.regex and sig.negation_after.regex.search(after))
        )

    def matches(self, patterns: Patterns, unit: Unit) -> bool:
        return unit.index in self.corpus.hits(patterns.regex)

    def red_flags(self, crit: Criterion) -> list[tuple[str, str, Unit]]:
        """(flag id, message, unit) for every non-negated commitment to the failure pattern."""
        out = []
        for flag in crit.red_flags:
            if flag.kinds and self.kind not in flag.kinds:
                continue
            for i, spans in self.corpus.hits(flag.patterns.regex).items():
                unit = self.corpus.units[i]
                if any(not self.negated(unit, s, e) for s, e in spans):
                    out.append((flag.id, flag.message(self.lang), unit))
        return out

    def judge(self, crit: Criterion, weight: float) -> tuple[CriterionResult, list[RedFlag]]:
        """Level, evidence and findings for one criterion."""
        lang = self.lang
        corpus = self.corpus
        topic_hits = corpus.hits(crit.topic.regex)
        aspect_hits = [corpus.hits(a.patterns.regex) for a in crit.aspects]
        candidates = set(topic_hits).union(*aspect_hits)
        # Units whose heading or table header names the topic or an aspect are candidates too.
        context_units = [
            u for u in corpus.units if u.index not in candidates and (u.heading is not None or u.header)
        ]
        flags = self.red_flags(crit)
        flagged = {unit.index for _, _, unit in flags}
        mentioned: dict[str, list[Unit]] = {a.id: [] for a in crit.aspects}
        concrete: dict[str, list[tuple[Unit, int]]] = {a.id: [] for a in crit.aspects}
        topic_units: list[Unit] = []
        for unit in [corpus.units[i] for i in sorted(candidates)] + context_units:
            in_unit = [i for i, hits in enumerate(aspect_hits) if unit.index in hits]
            in_ctx = [
                i for i, a in enumerate(crit.aspects) if i not in in_unit and corpus.in_context(a.patterns.regex, unit)
            ]
            on_topic = (
                unit.index in topic_hits or corpus.in_context(crit.topic.regex, unit) or len(in_unit) >= 2
            )
            if not on_topic:
                continue
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
                signals = self.concrete_signals(unit, aspect_hits[i].get(unit.index, []) + topic_spans)
                needed = set(aspect.needs) if aspect.needs else signals
                if signals & needed:
                    concrete[aspect.id].append((unit, len(signals)))

        n_concrete = sum(1 for a in crit.aspects if concrete[a.id])
        level = 0
        if n_concrete >= crit.needed_for(3):
            level = 3
        elif n_concrete >= crit.needed_for(2):
            level = 2
        elif topic_units or any(mentioned.values()):
            level = 1

        if flags:
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
            if mentioned[aspect.id]:
                statuses.append(AspectStatus(id=aspect.id, title=title, status="vague"))
                wanted = " / ".join(kinds[k] for k in aspect.needs) if aspect.needs else None
                if lang == "ja":
                    msg = f"{title}：言及はあるが具体性がない" + (f"（{wanted}がない）" if wanted else "")
                else:
                    msg = f"{title}: mentioned, but not concretely" + (f" (no {wanted})" if wanted else "")
                findings.append(Finding(aspect=aspect.id, status="vague", message=msg))
            else:
                statuses.append(AspectStatus(id=aspect.id, title=title, status="missing"))
                msg = f"{title}：記載が見当たらない" if lang == "ja" else f"{title}: not found"
                findings.append(Finding(aspect=aspect.id, status="missing", message=msg))
        return statuses, findings

    def _searched(self, crit: Criterion) -> str:
        """Say what was looked for and where, so 'absent' can be told from 'not found by us'."""
        units = self.corpus.units
        tables = len({u.block.location.table for u in units if u.block.location.table is not None})
        parts = sorted({u.block.location.part for u in units})
        terms = "; ".join(
            [crit.topic.examples(6)] + [f"{a.title(self.lang)}: {a.patterns.examples(2)}" for a in crit.aspects]
        )
        if self.lang == "ja":
            where = f"{len(units)}文・表行（表{tables}個、{'・'.join(parts)}）"
            return f"{where}を検索：{terms} — 該当なし"
        where = f"{len(units)} sentences and table rows ({tables} tables; {', '.join(parts)})"
        return f"Searched {where} for: {terms} — none found"


def detect_kind(corpus: Corpus, rubric: Rubric) -> str:
    """The document kind with the strongest title and body evidence; 'proposal' when none."""
    scores: Counter[str] = Counter()
    lead = set(range(min(5, len(corpus.units))))
    for kind, rule in rubric.settings.kinds.items():
        title_hits = corpus.hits(rule.title.regex)
        scores[kind] += 3 * sum(1 for i in title_hits if i in lead or corpus.units[i].block.kind == "heading" and i < 40)
        scores[kind] += min(5, len(corpus.hits(rule.body.regex)))
    best, score = max(scores.items(), key=lambda kv: (kv[1], kv[0] == "proposal"))
    return best if score > 0 else "proposal"


def is_ai_related(corpus: Corpus, rubric: Rubric) -> bool:
    return len(corpus.hits(rubric.settings.ai_terms.regex)) >= 3


def detect_injection(engine: Engine) -> Injection:
    """Text addressed to an AI reviewer; reported, never obeyed."""
    hits = engine.corpus.hits(engine.rubric.settings.injection.regex)
    evidence = [
        Evidence(
            quote=engine.corpus.units[i].text,
            location=engine.corpus.units[i].block.location.label(engine.lang),
            where=engine.corpus.units[i].block.location,
        )
        for i in sorted(hits)
    ]
    return Injection(detected=bool(evidence), evidence=evidence)
