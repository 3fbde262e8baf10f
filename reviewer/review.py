"""Review one document: parse, run the rules, merge into a Review with an overall verdict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import config
from .errors import UsageError
from .models import (
    DOCUMENT_KINDS,
    CriterionResult,
    Document,
    DocumentInfo,
    Evidence,
    Finding,
    InjectionEffect,
    Overall,
    ParseOptions,
    RedFlag,
    ReportLanguage,
    Review,
    Risk,
    Usage,
)
from .rubric import Rubric, load_rubric
from .rules import Engine, build_corpus, detect_injection, detect_kind, is_ai_related
from .text import normalize, split_sentences

if TYPE_CHECKING:  # the LLM stage is imported only when used: it costs seconds to import
    from .llm import Answer, LLMOptions, LLMReview, Progress

_FELL_BACK = {
    "ja": "{n}件の基準はLLMの判定が得られず、ルールの判定を用いた（各基準に理由を記載）。",
    "en": "{n} criteria could not be judged by the LLM and use the rules' judgement (each says why).",
}
_NOT_AI = {
    "ja": "この文書はAIシステムを扱っていないように見えます。本ルーブリックはAI導入計画向けのため、承認判定は出しません。",
    "en": "This document does not appear to describe an AI system; the rubric is written for AI-adoption plans, so it is not approved on it.",
}
_NOT_AI_FINDING = {
    "ja": "AIを扱わない文書のため、この基準は該当しない（レベル1を上限とする）",
    "en": "not applicable: the document describes no AI system (capped at level 1)",
}


def review(
    source: str | Path | Document,
    *,
    kind: str | None = None,
    lang: str | None = None,
    engine: str = "auto",
    rubric: Rubric | None = None,
    llm_options: LLMOptions | None = None,
    progress: Progress | None = None,
    parse_options: ParseOptions | None = None,
) -> Review:
    """Review a file (or an already parsed Document) and return the Review record.

    engine "auto" uses the LLM when an endpoint is configured (config.llm_configured), else the
    rules; the rules always run, as the LLM's cross-check and fallback.
    """
    if engine not in config.ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose one of {', '.join(config.ENGINES)}")
    use_llm = engine == "llm" or (engine == "auto" and config.llm_configured())
    if kind is not None and kind not in DOCUMENT_KINDS:
        raise UsageError(f"unknown kind {kind!r}; choose one of {', '.join(DOCUMENT_KINDS)}")
    if lang is not None and lang not in config.REPORT_LANGUAGES:
        raise UsageError(f"unknown report language {lang!r}; choose ja or en")
    if isinstance(source, Document):
        doc = source
    else:
        from .sandbox import parse_isolated

        doc = parse_isolated(source, options=parse_options)
    rubric = rubric or load_rubric()
    report_lang: ReportLanguage = lang or ("en" if doc.language == "en" else "ja")  # type: ignore[assignment]

    corpus = build_corpus(doc, rubric)
    detected = detect_kind(corpus, rubric)
    doc_kind = kind or detected
    profile = rubric.settings.profiles[doc_kind]
    rules = Engine(rubric, corpus, doc_kind, report_lang)
    injection = detect_injection(rules)
    injection.evidence += _hidden_injection(doc, rubric, report_lang)
    injection.detected = bool(injection.evidence)
    asking = probing = None
    if use_llm:  # the calls go out first; the rules run while the model thinks
        from .llm import LLMOptions, LLMReviewer

        options = llm_options or LLMOptions.from_env()
        # Text addressed to the reviewer is withheld from the model and earns no credit; a probe
        # with it left in tells whether it would have moved the model.
        flagged = _blocks(doc, corpus, corpus.hits(rubric.settings.injection))
        asking = LLMReviewer(
            doc,
            corpus,
            rubric,
            doc_kind,
            report_lang,
            options,
            withheld=flagged,
            uncredited=flagged,
            progress=progress,
        )
        asking.start()
        if flagged:
            probing = LLMReviewer(
                doc, corpus, rubric, doc_kind, report_lang, options, uncredited=flagged
            )
            probing.start()

    criteria: list[CriterionResult] = []
    red_flags: list[RedFlag] = []
    for crit in rubric.criteria:
        result, flags = rules.judge(crit, profile.weights[crit.id])
        criteria.append(result)
        red_flags.extend(flags)
    ai_related = is_ai_related(corpus, rubric)
    # Each instruction addressed to the reviewer is a red flag of its own, with its quote.
    red_flags.extend(
        RedFlag(
            id="INJECTION.addressed_to_reviewer",
            criterion="INJECTION",
            quote=e.quote,
            location=e.location,
            where=e.where,
            message=rubric.settings.injection_message(report_lang),
        )
        for e in injection.evidence
    )

    warnings = list(doc.warnings)
    usage, llm_info, engine_used = Usage(), None, "rules"
    if asking is not None:
        asked = asking.finish()
        if probing is not None:
            probed = probing.finish()
            injection.effects = _influence(asked, probed)
            injection.influenced = bool(injection.effects)
            for field in Usage.model_fields:
                setattr(
                    asked.usage, field, getattr(asked.usage, field) + getattr(probed.usage, field)
                )
        criteria = [_merged(rubric, r, asked.answers[r.id], report_lang) for r in criteria]
        usage, llm_info = asked.usage, asked.info
        warnings.extend(asked.warnings)
        from_llm = sum(1 for c in criteria if c.source == "llm")
        engine_used = "llm" if from_llm == len(criteria) else "mixed" if from_llm else "rules"
        if engine_used != "llm":
            warnings.append(_FELL_BACK[report_lang].format(n=len(criteria) - from_llm))
    if not ai_related:
        warnings.append(_NOT_AI[report_lang])
        for result in criteria:
            if result.id in rubric.settings.ai_specific and result.level > 1:
                result.level = 1
                result.findings.insert(
                    0, Finding(aspect="-", status="vague", message=_NOT_AI_FINDING[report_lang])
                )
    overall = score(criteria, red_flags, injection.detected, rubric, doc_kind, report_lang)
    if not ai_related and overall.verdict == "approve":
        overall.verdict = "revise"
        overall.reasons = [_NOT_AI[report_lang]]
    return Review(
        document=DocumentInfo(
            name=doc.name,
            kind=doc_kind,  # type: ignore[arg-type]
            kind_detected=kind is None,
            language=doc.language,
            sha256=doc.sha256,
            pages=doc.pages,
            format=doc.format,
            blocks=len(doc.blocks),
            ai_related=ai_related,
        ),
        engine=engine_used,  # type: ignore[arg-type]
        lang=report_lang,
        rubric_version=rubric.version,
        criteria=criteria,
        red_flags=red_flags,
        injection=injection,
        overall=overall,
        warnings=warnings,
        usage=usage,
        llm=llm_info,
        # Alt text is ordinary in documents with pictures; it is shown when it carries an
        # instruction to the reviewer (as injection), otherwise only kept out of the judgement.
        hidden=[
            h
            for h in doc.hidden
            if h.kind != "alt_text" or any(e.quote == h.text for e in injection.evidence)
        ],
    )


def _hidden_injection(doc: Document, rubric: Rubric, lang: ReportLanguage) -> list[Evidence]:
    """Text a reader cannot see (white font, a comment, tag characters) addressed to the reviewer."""
    cues = rubric.settings.injection
    return [
        Evidence(quote=h.text, location=h.location.label(lang), where=h.location)
        for h in doc.hidden
        if h.kind != "zero_width"  # its text is the block's, already read
        and any(cues.search(normalize(s)) for s in split_sentences(h.text))
    ]


def _blocks(doc: Document, corpus, units: dict[int, list]) -> set[int]:
    """Indices of the blocks that hold the given units."""
    index = {id(b): i for i, b in enumerate(doc.blocks)}
    return {index[id(corpus.units[u].block)] for u in units}


def _influence(clean: LLMReview, probed: LLMReview) -> list[InjectionEffect]:
    """Criteria the model judged differently with the flagged text left in."""
    out = []
    for cid, answer in clean.answers.items():
        other = probed.answers.get(cid)
        if (
            answer.judgement
            and other
            and other.judgement
            and answer.judgement.level != other.judgement.level
        ):
            out.append(
                InjectionEffect(
                    criterion=cid,
                    with_text=other.judgement.level,
                    without_text=answer.judgement.level,
                )
            )
    return out


def _merged(
    rubric: Rubric, rules: CriterionResult, answer: Answer, lang: ReportLanguage
) -> CriterionResult:
    from .llm import describe_failure
    from .merge import fallback, from_judgement

    if answer.judgement is None or answer.verified is None:
        return fallback(rules, describe_failure(answer.fallback or "no answer", lang))
    result = from_judgement(
        rubric.criterion(rules.id), answer.judgement, answer.verified, rules, lang
    )
    result.sample_levels = answer.sample_levels if len(answer.sample_levels) > 1 else []
    return result


def score(
    criteria: list[CriterionResult],
    red_flags: list[RedFlag],
    injected: bool,
    rubric: Rubric,
    kind: str,
    lang: ReportLanguage,
) -> Overall:
    """Weighted levels to 0–100, less a penalty per red flag; verdict by the documented thresholds."""
    profile = rubric.settings.profiles[kind]
    total = sum(c.weight for c in criteria)
    raw = 100 * sum(c.weight * c.level for c in criteria) / (3 * total)
    penalty = min(config.RED_FLAG_PENALTY * len(red_flags), config.RED_FLAG_PENALTY_MAX)
    value = max(0, min(100, round(raw - penalty)))

    by_id = {c.id: c for c in criteria}
    weak_keys = [cid for cid in profile.key if by_id[cid].level < 2]
    disputed = [c.id for c in criteria if c.disagreement]
    missing_keys = [cid for cid in profile.key if by_id[cid].level == 0]
    ja = lang == "ja"
    reasons: list[str] = []
    if value < config.REJECT_BELOW_SCORE or len(missing_keys) >= 2:
        verdict = "reject"
        if value < config.REJECT_BELOW_SCORE:
            reasons.append(
                f"スコア{value}が却下基準{config.REJECT_BELOW_SCORE}未満"
                if ja
                else f"score {value} is below {config.REJECT_BELOW_SCORE}"
            )
        if len(missing_keys) >= 2:
            reasons.append(
                f"重要基準 {', '.join(missing_keys)} が記載なし"
                if ja
                else f"key criteria {', '.join(missing_keys)} are missing"
            )
    elif (
        value >= config.APPROVE_MIN_SCORE
        and not weak_keys
        and not red_flags
        and not injected
        and len(disputed) < config.DISPUTES_BLOCK_APPROVAL
    ):
        verdict = "approve"
        reasons.append(
            f"スコア{value}、重要基準はすべてレベル2以上、レッドフラグなし"
            if ja
            else f"score {value}, every key criterion at level 2 or above, no red flags"
        )
    else:
        verdict = "revise"
        if value < config.APPROVE_MIN_SCORE:
            reasons.append(
                f"スコア{value}が承認基準{config.APPROVE_MIN_SCORE}未満"
                if ja
                else f"score {value} is below {config.APPROVE_MIN_SCORE}"
            )
        if weak_keys:
            reasons.append(
                f"重要基準 {', '.join(weak_keys)} がレベル2未満"
                if ja
                else f"key criteria {', '.join(weak_keys)} are below level 2"
            )
        if red_flags:
            reasons.append(
                f"レッドフラグ{len(red_flags)}件" if ja else f"{len(red_flags)} red flag(s)"
            )
        if len(disputed) >= config.DISPUTES_BLOCK_APPROVAL:
            reasons.append(
                f"LLMとルールの判定が{len(disputed)}基準で2段階以上異なる（{', '.join(disputed)}）：人が根拠を読むこと"
                if ja
                else f"the LLM and the rules differ by two levels or more on {len(disputed)} criteria "
                f"({', '.join(disputed)}): a person should read the evidence"
            )
        if injected:
            reasons.append(
                "評価者（AI）への指示文が含まれている"
                if ja
                else "the document contains instructions addressed to an AI reviewer"
            )

    flagged = {f.criterion for f in red_flags}
    ranked = sorted(
        (c for c in criteria if c.level < 3),
        key=lambda c: (-(c.weight * (3 - c.level) + (1.5 if c.id in flagged else 0)), c.level),
    )
    risks = []
    for c in ranked[:3]:
        crit = rubric.criterion(c.id)
        flag_msg = next((f.message for f in red_flags if f.criterion == c.id), None)
        risks.append(
            Risk(
                criterion=c.id,
                title=c.title,
                level=c.level,
                reason=flag_msg or crit.guards_against(lang),
            )
        )

    scenario = None
    best = 0.0
    fired = {f.id for f in red_flags}
    for sc in rubric.settings.scenarios:
        mean = sum(by_id[cid].level for cid in sc.criteria) / len(sc.criteria)
        hit = any(fid in fired for fid in sc.red_flags)
        deficit = (3 - mean) + (1.5 if hit else 0)
        primary_weak = by_id[sc.criteria[0]].level <= 1  # the criterion the scenario is about
        if (primary_weak or mean <= 1.0 or hit) and deficit > best:
            best, scenario = deficit, sc
    return Overall(
        score=value,
        verdict=verdict,  # type: ignore[arg-type]
        reasons=reasons,
        risks=risks,
        scenario=scenario.id if scenario else None,
        scenario_title=scenario.title(lang) if scenario else None,
    )
