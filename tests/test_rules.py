"""Rule-engine mechanics that the level tests do not show directly."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.parse import parse_bytes, parse_file
from reviewer.rubric import required_literals
from reviewer.rules import build_corpus
from reviewer.text import normalize

from .conftest import SAMPLES, review_markdown


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(?<![a-z])(kpis?|roi)(?![a-z])", "the kpi is set"),
        (r"(処理|対応)(時間|件数)", "平均処理時間は12分"),
        (r"(?:(?<=部)|(?<=課))(の|で)(?=[^。\n]{0,12}(業務|処理))", "経理部の請求処理を対象とする"),
        (r"\d[\d,.]*\s*(%|件|分)", "12件"),
        (r"[一-龥]{1,4}(部|課)", "経理部"),
        (r"(a|b)?c+d", "ccd"),
    ],
)
def test_required_literals_are_really_required(pattern, text):
    """Every match contains a string of every option set, or the prefilter would skip it."""
    assert re.search(pattern, text)
    for option in required_literals(pattern):
        assert any(lit in text for lit in option), (pattern, option)


_JA = re.compile(r"[ぁ-ヿ㐀-䶿一-鿿]")
_EN = re.compile(r"[a-z]")


def _brute_force_equals_prefiltered(doc, rubric):
    """Japanese patterns on units with Japanese text, English ones on units with Latin letters."""
    corpus = build_corpus(doc, rubric)
    for patterns in rubric.all_patterns():
        fast = corpus.hits(patterns)
        slow = {}
        for unit in corpus.units:
            scripts = {"ja": bool(_JA.search(unit.norm)), "en": bool(_EN.search(unit.norm))}
            spans = [
                m.span()
                for c in patterns.compiled
                if scripts[c.lang]
                for m in c.regex.finditer(unit.norm)
            ]
            if spans:
                slow[unit.index] = spans
        assert {k: sorted(v) for k, v in fast.items()} == {k: sorted(v) for k, v in slow.items()}


@pytest.mark.parametrize(
    "name", ["ja-poc-plan-strong.docx", "en-poc-plan-mixed.pdf", "ja-progress-report-warning.md"]
)
def test_prefilter_finds_exactly_what_a_full_scan_finds(name, rubric):
    _brute_force_equals_prefiltered(parse_file(SAMPLES / name), rubric)


_WORDS = st.sampled_from(
    [
        "KPI",
        "現状",
        "12分",
        "目標",
        "5分以内",
        "部長",
        "が",
        "承認",
        "毎月",
        "データ",
        "オーナー",
        "全社一斉展開",
        "not",
        "fully automate",
        "owner",
        "the",
        "team",
        "weekly",
        "30%",
        "2027年3月",
        "、",
        "。",
        " ",
        "\n",
        "ではなく",
    ]
)


@settings(max_examples=60, deadline=None)
@given(text=st.lists(_WORDS, min_size=1, max_size=40).map("".join))
def test_prefilter_on_random_text(rubric, text):
    if not text.strip():
        return
    _brute_force_equals_prefiltered(parse_bytes(text.encode(), "random.txt"), rubric)


@settings(max_examples=40, deadline=None)
@given(st.lists(_WORDS, min_size=1, max_size=60).map("".join))
def test_levels_in_range_and_quotes_exist(text):
    if not text.strip():
        return
    doc = parse_bytes(text.encode(), "random.md")
    review = review_markdown(text)
    body = "\n".join(b.text for b in doc.blocks)
    for crit in review.criteria:
        assert 0 <= crit.level <= 3
        for ev in crit.evidence:
            assert ev.quote in body
    for flag in review.red_flags:
        assert flag.quote in body


def test_keyword_stuffing_stays_at_most_level_1():
    text = (
        "# 計画\n\nKPIを設定し、効果測定を徹底する。データガバナンスを徹底し、セキュリティに十分配慮する。"
        "現場と連携し、役割分担を明確にする。段階的に展開し、運用体制を整備する。ベンダーと協力して進める。\n\n"
        "We will define KPIs, ensure data governance, consider security, involve the frontline as needed, "
        "clarify roles and responsibilities, and roll out in phases.\n"
    )
    review = review_markdown(text)
    assert max(c.level for c in review.criteria) <= 1, [(c.id, c.level) for c in review.criteria]


def test_signal_inside_the_aspect_word_is_not_concreteness():
    review = review_markdown("# データ\n\nデータオーナーを設置する。\n")
    assert review.criterion("DATA").level <= 1


def test_red_flag_drives_level_to_zero_and_negation_does_not():
    flagged = review_markdown("# 展開計画\n\n2026年4月に全社一斉展開する。\n")
    assert flagged.criterion("ROLLOUT").level == 0
    assert "ROLLOUT.big_bang" in flagged.criterion("ROLLOUT").red_flags
    negated = review_markdown(
        "# 展開計画\n\n全社一斉展開ではなく、まず営業部20名で3か月試行する。\n"
    )
    assert "ROLLOUT.big_bang" not in negated.criterion("ROLLOUT").red_flags


def test_level_zero_says_what_was_searched():
    review = review_markdown(
        "# Office move\n\nThe new office has 1200 square metres on three floors.\n", lang="en"
    )
    vendor = review.criterion("VENDOR")
    assert vendor.level == 0
    assert vendor.searched and "Searched" in vendor.searched and "none found" in vendor.searched


def test_normalisation_matches_full_width_and_spaces():
    assert normalize("ＫＰＩ　を１２分〜５分に") == "kpiを12分~5分に"
    review = review_markdown(
        "# 評価指標\n\n| 指標 | 現状 | 目標 |\n|---|---|---|\n| 処理時間 | １２分 | ５分以内 |\n"
    )
    assert review.criterion("KPI").level >= 2


def test_document_without_ai_is_not_approved_and_ai_criteria_are_capped():
    text = (
        "# Website rebuild plan\n\n"
        "## Goals\n\nThe permit portal takes 14 minutes per application today; the target is 6 minutes by June 2027, "
        "measured monthly from server logs by the Digital Services team.\n\n"
        "## Review\n\nA clerk checks every application before approval; errors above 2% trigger a rollback review.\n\n"
        "## Operations\n\nThe operations team monitors uptime daily and the service desk answers within 4 hours.\n\n"
        "## Schedule\n\nDesign runs from January to March. Build runs from April to May. Testing takes four weeks. "
        "Training for 40 clerks happens in June. The old portal is switched off in July. "
        "Hosting stays in the city data centre. Accessibility is tested against WCAG 2.2 AA. "
        "Forms are reduced from 31 to 12 fields. Payment moves to the shared payment service.\n"
    )
    review = review_markdown(text, lang="en")
    assert review.document.ai_related is False
    for cid in ("EXPECT", "WORKFLOW", "OPS"):
        assert review.criterion(cid).level <= 1
    assert review.overall.verdict != "approve"
    assert any("AI" in w for w in review.warnings)


def test_a_sow_that_names_its_models_twice_is_about_ai():
    filler = "".join(
        f"Deliverable {n} is accepted by the Client in writing. " for n in range(1, 16)
    )
    text = (
        "# Statement of work\n\n## Background\n\n"
        "The Supplier's platform uses large language models to read scanned leases.\n\n"
        f"## Deliverables\n\n{filler}\n\n## Ownership\n\n"
        "The Supplier keeps all models, prompts and templates it develops.\n"
    )
    assert review_markdown(text, lang="en").document.ai_related is True


_PHASED = "## 展開\n\n効果を見ながら段階的に広げていく。\n\n"  # named only: level 1


def test_a_failure_pattern_a_participant_voices_in_minutes_costs_one_level():
    minutes = review_markdown(
        "# 第3回 AI推進会議 議事録\n\n"
        + _PHASED
        + "営業部長より「来年度は全社一斉展開すべきだ」との意見があった。\n"
    )
    assert minutes.document.kind == "progress_report"
    rollout = minutes.criterion("ROLLOUT")
    assert "ROLLOUT.big_bang" in rollout.red_flags
    assert rollout.level == 1  # recorded as a warning sign, not the plan's commitment

    plan = review_markdown("# AI導入計画書\n\n" + _PHASED + "来年度は全社一斉展開する。\n")
    assert "ROLLOUT.big_bang" in plan.criterion("ROLLOUT").red_flags
    assert plan.criterion("ROLLOUT").level == 0


def test_a_voiced_failure_pattern_alone_is_no_mention():
    minutes = review_markdown(
        "# 第3回 AI推進会議 議事録\n\n## 議事\n\n"
        "営業部長より「来年度は全社一斉展開すべきだ」との意見があった。\n",
        kind="progress_report",
    )
    assert minutes.criterion("ROLLOUT").level == 0


@pytest.mark.parametrize(
    "text",
    [
        # minutes with a section on the PoC
        "# 第5回 推進会議 議事録\n\n## 1. PoCの実施状況\n\n"
        "PoCは2事業所で実施中で、8月の処理時間は平均13分だった。PoCの対象は30名。\n\n"
        "## 2. 次回\n\n次回は10月16日に開催する。\n",
        # a report on a PoC, whose title and cover name the PoC too
        "# 生成AI PoC 月次進捗報告（第3回）\n\n- 報告日：2026年2月20日\n- 作成：業務改革部 PoC事務局\n\n"
        "## 1. 今月の状況\n\nPoCの対象は2部署で、今月の実績は処理件数420件だった。PoC期間は3月末まで。\n\n"
        "## 2. PoCの課題\n\n回答案の誤りが残る。PoCの判定会議は3月に開く。\n",
    ],
)
def test_reports_about_a_poc_are_reports(text):
    assert review_markdown(text).document.kind == "progress_report"


@pytest.mark.parametrize(
    "text",
    [
        "# 判定\n\n本格導入の決裁を理事会で行うのか、事業部長が行うのかが整理されていない。\n",
        "# Decision\n\nWho approves the move to production has not yet been decided by the board.\n",
    ],
)
def test_a_decider_said_to_be_unsettled_earns_no_credit(text):
    assert review_markdown(text).criterion("EXIT").level <= 1


def test_aspects_scattered_one_per_section_do_not_add_up():
    together = review_markdown(
        "# 業務改善計画\n\n## 評価指標\n\n"
        "請求書1件の処理時間を現状の平均14分から6分以内に短縮する。"
        "処理時間は会計システムのログから毎月末に集計する。"
        "投資は稼働後2年目に回収する見込みである。\n"
    )
    scattered = review_markdown(
        "# 業務改善計画\n\n## 背景\n\n請求書1件の処理時間は現状で平均14分かかっている。\n\n"
        "## 体制\n\n経理部の担当者3名が参加する。\n\n"
        "## 目標\n\n処理時間を6分以内にする。\n\n"
        "## 投資対効果\n\n投資は稼働後2年目に回収する見込みである。\n"
    )
    assert together.criterion("KPI").level == 3
    assert scattered.criterion("KPI").level == 2


def test_subsections_of_one_section_count_together():
    review = review_markdown(
        "# 業務改善計画\n\n## 1. 背景\n\n経理部では請求書を処理している。\n\n## 2. 評価指標\n\n"
        "### 2.1 現状\n\n請求書1件の処理時間は現状で平均14分かかっている。\n\n"
        "### 2.2 目標\n\n処理時間を6分以内にする。\n\n"
        "### 2.3 測り方\n\n処理時間は会計システムのログから毎月末に集計する。\n\n"
        "## 3. 体制\n\n経理部の担当者3名が参加する。\n"
    )
    assert review.criterion("KPI").level == 3
