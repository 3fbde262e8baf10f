"""The rubric: YAML under rubrics/, validated on load into typed, compiled records."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
from functools import cached_property
from pathlib import Path
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from . import __version__
from .config import cache_dir, data_dir
from .errors import RubricError
from .models import CRITERION_IDS, DOCUMENT_KINDS
from .text import scripts

# The closed set of concreteness signals an aspect may require (rubrics/signals.yaml defines them).
SignalKind = Literal["quantity", "date", "frequency", "owner", "threshold", "procedure", "system"]
SIGNAL_KINDS: tuple[str, ...] = SignalKind.__args__  # type: ignore[attr-defined]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A string in both report languages."""

    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def __call__(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


class Patterns(Strict):
    """Regular expressions, matched against the NFKC-normalised, case-folded text."""

    ja: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)

    @field_validator("ja", "en")
    @classmethod
    def _compiles(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if info.context and info.context.get("compiled"):
            return value  # this exact rubric compiled cleanly before (see load_rubric)
        for i, pattern in enumerate(value):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {i} {pattern!r} does not compile: {exc}") from None
        return value

    def all(self) -> list[str]:
        return [*self.ja, *self.en]

    @cached_property
    def compiled(self) -> list[CompiledPattern]:
        """Each pattern with the literal sets its every match needs a string of (see required_literals)."""
        return [CompiledPattern(p, "ja") for p in self.ja] + [
            CompiledPattern(p, "en") for p in self.en
        ]

    def search(self, text: str) -> bool:
        """Does any pattern of the text's own script match? (See CompiledPattern.lang.)"""
        langs = scripts(text)
        return any(c.lang in langs and c.search(text) for c in self.compiled)

    @cached_property
    def regex(self) -> re.Pattern[str] | None:
        """All patterns as one alternation (None when there are none)."""
        pats = self.all()
        return re.compile("|".join(f"(?:{p})" for p in pats)) if pats else None

    def examples(self, lang: str, n: int = 6) -> str:
        """A few of the words the patterns look for, readable, for 'searched for' messages."""
        shown: list[str] = []
        first, second = (self.ja, self.en) if lang == "ja" else (self.en, self.ja)
        for pattern in first[:4] + second[:1]:
            # The literals as extracted at load (or from the start-up stamp): parsing the
            # pattern again costs more than the whole review of a short document.
            options = _LITERALS.get(pattern)
            if options is None:
                options = [sorted(o) for o in required_literals(pattern)]
            words = sorted(
                {w for option in options for w in option if _READABLE.fullmatch(w)},
                key=lambda w: (-len(w), w),
            )
            for word in words[:2]:
                if word not in shown:
                    shown.append(word.strip())
        return ", ".join(shown[:n]) or "-"


class CompiledPattern:
    """One pattern, compiled on first use: most patterns never meet a unit that could match."""

    __slots__ = ("lang", "options", "unindexed", "pattern", "_regex", "_unindexed_check")

    def __init__(self, pattern: str, lang: str):
        self.pattern = pattern
        self.lang = (
            lang  # ja patterns run on units with Japanese text, en on units with Latin words
        )
        known = _LITERALS.get(pattern)
        if known is None:
            known = _LITERALS[pattern] = [sorted(o) for o in required_literals(pattern)]
        # An option that a single kana, digit, letter or common punctuation mark satisfies filters
        # almost nothing and floods the index; only the selective ones are kept (rarer signs such as
        # "|", "→" or "≦" stay: they pick out table rows and figures).
        self.options: tuple[frozenset[str], ...] = tuple(
            frozenset(o) for o in known if not any(_UNSELECTIVE.fullmatch(lit) for lit in o)
        )
        # A pattern left with no selective option would be tried on every unit of its script;
        # its other options are then checked directly (a substring test is far cheaper than a
        # regex that fails), as in 「：A/R」 cells, which need a ":".
        self.unindexed: tuple[tuple[str, ...], ...] = (
            () if self.options else tuple(tuple(o) for o in known)
        )
        self._regex: re.Pattern[str] | None = None
        self._unindexed_check: re.Pattern[str] | None = None

    def could_match(self, text: str) -> bool:
        """Does the text hold a string of every required literal set? (If not, the pattern
        cannot match, and need not even be compiled.)"""
        return all(any(lit in text for lit in option) for option in self.options) and all(
            any(lit in text for lit in option) for option in self.unindexed
        )

    def search(self, text: str) -> re.Match[str] | None:
        """`regex.search(text)`; a pattern not compiled yet is compiled only if it could match."""
        if self._regex is None and not self.could_match(text):
            return None
        return self.regex.search(text)

    @property
    def unindexed_check(self) -> re.Pattern[str]:
        """Matches (at the start) a text holding a string of every unindexed literal set: the
        substring tests of `could_match` in one call."""
        if self._unindexed_check is None:
            self._unindexed_check = re.compile(
                "(?s)"
                + "".join(
                    "(?=.*?(?:" + "|".join(map(re.escape, option)) + "))"
                    for option in self.unindexed
                )
            )
        return self._unindexed_check

    @property
    def regex(self) -> re.Pattern[str]:
        if self._regex is None:
            self._regex = re.compile(self.pattern)
        return self._regex


_UNSELECTIVE = re.compile(r"[\u3040-\u30ff\s0-9a-z.,:;!?'\"()\-/・、。「」（）]")

# pattern -> required literal sets; filled from the cache file so start-up need not parse them.
_LITERALS: dict[str, list[list[str]]] = {}


def required_literals(pattern: str) -> list[set[str]]:
    """Sets of strings such that any match of `pattern` (searched in one unit) contains one string
    of every set; an empty list when nothing is certain (a pattern of character ranges only).

    Read off the parsed regex: a sequence needs what each of its parts needs, a branch one of its
    alternatives, a repeat with a minimum of one its body; positive lookarounds count, since
    matching runs on one unit at a time. Used to skip the units a pattern cannot match.
    """
    return _options(list(sre_parse.parse(pattern)))


def _options(items: list) -> list[set[str]]:
    options: list[set[str]] = []
    run = ""
    for op, av in items:
        if op is sre.LITERAL:
            run += chr(av)
            continue
        if run:
            options.append({run})
            run = ""
        found = _required_node(op, av)
        if found:
            options.append(found)
    if run:
        options.append({run})
    return options


def _required(items: list) -> set[str] | None:
    """The single most selective option of a sequence (for use inside branches)."""
    options = _options(items)
    if not options:
        return None
    return max(options, key=lambda opt: (min(map(len, opt)), -len(opt)))


def _required_node(op, av) -> set[str] | None:  # noqa: ANN001 - sre parse tree
    if op is sre.SUBPATTERN:
        return _required(list(av[3]))
    if op is sre.ATOMIC_GROUP:
        return _required(list(av))
    if op is sre.ASSERT:  # (?=...) and (?<=...); ASSERT_NOT promises nothing
        return _required(list(av[1]))
    if op is sre.BRANCH:
        out: set[str] = set()
        for branch in av[1]:
            found = _required(list(branch))
            if found is None:
                return None
            out |= found
        return out
    if op is sre.IN:
        if len(av) <= 12 and all(o is sre.LITERAL for o, _ in av):
            return {chr(v) for _, v in av}
        return None
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, _, item = av
        return _required(list(item)) if low >= 1 else None
    return None


# A literal worth showing: two or more characters, starting and ending with a letter or kanji.
_READABLE = re.compile(r"[^\W\d_][\w /・-]{0,30}[^\W\d_]")


class Aspect(Strict):
    """One element that makes a criterion concrete, e.g. KPI's baseline."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Text
    patterns: Patterns
    # Signals that must accompany the aspect in the same sentence or table row for it to count as
    # concrete; empty means any signal will do.
    needs: list[SignalKind] = Field(default_factory=list)
    # A supporting aspect only completes others (how and when a KPI is measured): it does not by
    # itself put a sentence on the criterion's topic, since "reviewed weekly" is said of anything.
    supporting: bool = False

    @model_validator(mode="after")
    def _has_patterns(self) -> Aspect:
        if not self.patterns.all():
            raise ValueError("an aspect needs at least one pattern")
        return self


class RedFlagRule(Strict):
    """A statement that commits to the failure pattern itself."""

    id: str = Field(pattern=r"^[A-Z]+\.[a-z0-9_]+$")
    patterns: Patterns
    message: Text
    kinds: list[str] | None = None  # only for these document kinds (None: all)

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: list[str] | None) -> list[str] | None:
        for kind in value or []:
            if kind not in DOCUMENT_KINDS:
                raise ValueError(
                    f"unknown document kind {kind!r}; valid: {', '.join(DOCUMENT_KINDS)}"
                )
        return value


class Chapter(Strict):
    number: int = Field(ge=1, le=16)
    title: Text


class Questions(Strict):
    author: list[Text] = Field(min_length=1)
    vendor: list[Text] = Field(min_length=1)


class Criterion(Strict):
    id: str
    title: Text
    chapter: Chapter
    guards_against: Text  # the failure cause in one sentence
    levels: dict[int, Text]
    topic: Patterns  # naming the topic at all (level 1 at least)
    aspects: list[Aspect] = Field(min_length=2)
    level2: int | None = None  # concrete aspects needed for level 2 (default: see below)
    level3: int | None = None  # concrete aspects needed for level 3 (default: half, rounded up)
    red_flags: list[RedFlagRule] = Field(default_factory=list)
    recommendation: Text
    questions: Questions

    @field_validator("id")
    @classmethod
    def _known_id(cls, value: str) -> str:
        if value not in CRITERION_IDS:
            raise ValueError(f"unknown criterion id {value!r}; valid: {', '.join(CRITERION_IDS)}")
        return value

    @field_validator("levels")
    @classmethod
    def _four_levels(cls, value: dict[int, Text]) -> dict[int, Text]:
        if sorted(value) != [0, 1, 2, 3]:
            raise ValueError("levels must describe exactly 0, 1, 2 and 3")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Criterion:
        ids = [a.id for a in self.aspects]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate aspect ids in {ids}")
        for flag in self.red_flags:
            if not flag.id.startswith(self.id + "."):
                raise ValueError(f"red flag {flag.id} must start with '{self.id}.'")
        if not 1 <= self.needed_for(2) <= self.needed_for(3) <= len(self.aspects):
            raise ValueError("need 1 <= level2 <= level3 <= number of aspects")
        return self

    def needed_for(self, level: int) -> int:
        """Concrete aspects needed for level 2 or 3."""
        n = len(self.aspects)
        if level == 3:  # "most of the level-3 elements": half or more, rounded up
            return (
                self.level3
                if self.level3 is not None
                else max(self.needed_for(2), math.ceil(0.5 * n))
            )
        return self.level2 if self.level2 is not None else max(1, math.ceil(n / 3))


class Signal(Strict):
    """A kind of concrete detail: numbers with units, dates, owners, thresholds..."""

    kind: SignalKind
    title: Text
    patterns: Patterns


class Signals(Strict):
    """Shared, criterion-independent patterns."""

    signals: list[Signal]
    # Sentences that defer or only name the topic: never concrete, whatever else they contain.
    vague: Patterns
    # Cues that negate a red-flag phrase ("完全自動化ではなく", "not a big-bang rollout").
    negation_before: Patterns
    negation_after: Patterns
    # Words attributed to a participant (「…」との意見があった, "the director said that…"): in
    # minutes, a failure pattern someone voices is an observation, not the plan's commitment.
    reported_speech: Patterns

    @model_validator(mode="after")
    def _every_kind(self) -> Signals:
        missing = set(SIGNAL_KINDS) - {s.kind for s in self.signals}
        if missing:
            raise ValueError(f"no patterns for signal kinds {sorted(missing)}")
        return self


class Profile(Strict):
    """Weights for one document kind."""

    title: Text
    weights: dict[str, float]
    key: list[str] = Field(min_length=1)  # criteria that must reach level 2 to approve

    @model_validator(mode="after")
    def _all_criteria(self) -> Profile:
        if sorted(self.weights) != sorted(CRITERION_IDS):
            missing = sorted(set(CRITERION_IDS) - set(self.weights))
            extra = sorted(set(self.weights) - set(CRITERION_IDS))
            raise ValueError(
                f"weights must cover the 14 criteria (missing {missing}, unknown {extra})"
            )
        for cid in self.key:
            if cid not in CRITERION_IDS:
                raise ValueError(f"unknown key criterion {cid!r}")
        return self


class KindRule(Strict):
    title: Patterns  # strong evidence when in the first blocks
    body: Patterns  # weaker evidence anywhere


class Scenario(Strict):
    """One of the article's three failure scenarios (chapter 16)."""

    id: str
    title: Text
    criteria: list[str] = Field(min_length=1)
    red_flags: list[str] = Field(default_factory=list)


class Settings(Strict):
    """rubrics/rubric.yaml: version, profiles, kind detection, scenarios, injection cues."""

    version: str
    profiles: dict[str, Profile]
    kinds: dict[str, KindRule]
    scenarios: list[Scenario] = Field(min_length=3, max_length=3)
    ai_terms: Patterns
    ai_specific: list[str] = Field(default_factory=list)
    injection: Patterns
    injection_message: Text  # the red flag raised for each instruction found

    @model_validator(mode="after")
    def _kinds(self) -> Settings:
        for cid in self.ai_specific:
            if cid not in CRITERION_IDS:
                raise ValueError(f"unknown criterion {cid!r} in ai_specific")
        for name, mapping in (("profiles", self.profiles), ("kinds", self.kinds)):
            if sorted(mapping) != sorted(DOCUMENT_KINDS):
                raise ValueError(f"{name} must cover {', '.join(DOCUMENT_KINDS)}")
        return self


class Rubric(BaseModel):
    """The whole rubric: criteria in the canonical order, signals and settings."""

    model_config = ConfigDict(frozen=True)

    settings: Settings
    signals: Signals
    criteria: list[Criterion]

    @property
    def version(self) -> str:
        return self.settings.version

    def criterion(self, cid: str) -> Criterion:
        return next(c for c in self.criteria if c.id == cid)

    def all_patterns(self) -> list[Patterns]:
        """Every pattern set that is matched against document text."""
        sets = [s.patterns for s in self.signals.signals]
        sets += [self.signals.vague, self.signals.reported_speech]
        sets += [self.settings.ai_terms, self.settings.injection]
        for rule in self.settings.kinds.values():
            sets += [rule.title, rule.body]
        for crit in self.criteria:
            sets += [
                crit.topic,
                *(a.patterns for a in crit.aspects),
                *(f.patterns for f in crit.red_flags),
            ]
        return sets


def _load_yaml(path: Path) -> object:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise RubricError(str(path), "-", f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "-"
        raise RubricError(
            str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None


def _validate(model: type[BaseModel], path: Path, trusted: bool, parsed: dict) -> BaseModel:
    """Validate one rubric file; `parsed` holds the files already read (from the stamp), keyed by
    name, and gets this one if it had to be read (for the next stamp)."""
    if path.name not in parsed:
        parsed[path.name] = _load_yaml(path)
    data = parsed[path.name]
    try:
        return model.model_validate(data, context={"compiled": trusted})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "-"
        raise RubricError(str(path), field, err["msg"]) from None


_cache: dict[Path, Rubric] = {}
_STAMP_FORMAT = 3  # bump when required_literals() or the stamp's layout changes


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha256(f"{__version__}|{_STAMP_FORMAT}|{sys.version_info[:2]}".encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:24]


def load_rubric(directory: Path | None = None) -> Rubric:
    """Load and validate the rubric folder; errors name the file and the field.

    Reading the YAML and compiling several hundred patterns dominate start-up, so a rubric that
    loaded cleanly once leaves a small file in the cache folder (its fingerprint, the parsed
    rubric files and each pattern's required literals, nothing of any document); the next start
    reads that instead of the YAML, skips the compile check and compiles each pattern only when
    a unit could match it.
    """
    root = (directory or data_dir("rubrics")).resolve()
    if root in _cache:
        return _cache[root]
    files = [
        root / "rubric.yaml",
        root / "signals.yaml",
        *sorted((root / "criteria").glob("*.yaml")),
    ]
    try:
        fingerprint = _fingerprint([f for f in files if f.is_file()])
    except OSError:
        fingerprint = ""
    stamp = cache_dir() / f"rubric-{fingerprint}.json"
    trusted = False
    parsed: dict = {}
    if fingerprint and stamp.is_file():
        try:
            saved = json.loads(stamp.read_text(encoding="utf-8"))
            literals, files_read = saved["literals"], saved["files"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        else:
            _LITERALS.update(literals)
            parsed, trusted = files_read, True
    rubric = _load(root, trusted, parsed)
    if fingerprint and not trusted:
        literals = {
            c.pattern: _LITERALS[c.pattern]  # as extracted, before the selectivity filter
            for p in rubric.all_patterns()
            for c in p.compiled
        }
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            tmp = stamp.with_suffix(f".{os.getpid()}.tmp")
            saved = {"literals": literals, "files": parsed}
            tmp.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
            tmp.replace(stamp)
            for old in stamp.parent.glob("rubric-*.json"):
                if old != stamp:
                    old.unlink(missing_ok=True)  # stamps of earlier rubric versions
        except (OSError, TypeError, ValueError):
            pass  # a read-only home (or data JSON cannot hold) only costs start-up time
    _cache[root] = rubric
    return rubric


def _load(root: Path, trusted: bool, parsed: dict) -> Rubric:
    settings = _validate(Settings, root / "rubric.yaml", trusted, parsed)
    signals = _validate(Signals, root / "signals.yaml", trusted, parsed)
    by_id: dict[str, Criterion] = {}
    for path in sorted((root / "criteria").glob("*.yaml")):
        crit = _validate(Criterion, path, trusted, parsed)
        assert isinstance(crit, Criterion)
        if path.stem != crit.id:
            raise RubricError(str(path), "id", f"file name must match the id ({crit.id}.yaml)")
        by_id[crit.id] = crit
    missing = [cid for cid in CRITERION_IDS if cid not in by_id]
    if missing:
        raise RubricError(str(root / "criteria"), "-", f"missing criteria: {', '.join(missing)}")
    rubric = Rubric(
        settings=settings,  # type: ignore[arg-type]
        signals=signals,  # type: ignore[arg-type]
        criteria=[by_id[cid] for cid in CRITERION_IDS],
    )
    flag_ids = {f.id for c in rubric.criteria for f in c.red_flags}
    for sc in rubric.settings.scenarios:
        for ref in sc.red_flags:
            if ref not in flag_ids:
                raise RubricError(
                    str(root / "rubric.yaml"), f"scenarios.{sc.id}", f"unknown red flag {ref}"
                )
    return rubric
