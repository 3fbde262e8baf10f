"""Personal data never reaches the LLM endpoint; placeholders keep quotes verifiable."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reviewer.redact import Redactor, luhn_valid, mynumber_valid
from reviewer.review import review

from .fake_models import asked, judgement, passages
from .fake_openai import FakeOpenAI, Reply
from .test_llm import options


def my_number(body: str) -> str:
    """Eleven digits and their check digit."""
    digits = [int(c) for c in body]
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(digits), 1))
    r = total % 11
    return body + str(0 if r <= 1 else 11 - r)


MY_NUMBER = my_number("31415926535")
WRONG_CHECK = MY_NUMBER[:-1] + str((int(MY_NUMBER[-1]) + 1) % 10)


def test_check_digits():
    assert mynumber_valid(MY_NUMBER) and not mynumber_valid(WRONG_CHECK)
    assert mynumber_valid("".join(chr(ord(c) + 0xFEE0) for c in MY_NUMBER))  # full-width
    assert luhn_valid("4111 1111 1111 1111") and not luhn_valid("4111 1111 1111 1112")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("連絡先：hanako.sato@example.co.jp まで", "email"),
        ("連絡先：ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ まで", "email"),
        ("電話03-1234-5678（代表）", "phone"),
        ("携帯０９０ー１２３４ー５６７８に", "phone"),
        ("携帯090‐1234‐5678に", "phone"),
        ("直通09012345678へ", "phone"),
        ("call +81 3-1234-5678 or", "phone"),
        ("call +1 (555) 123-4567 today", "phone"),
        (f"番号{MY_NUMBER}を", "mynumber"),
        (f"番号 {MY_NUMBER[:4]} {MY_NUMBER[4:8]} {MY_NUMBER[8:]} を", "mynumber"),
        ("card 4111-1111-1111-1111 expires", "card"),
        ("〒100-0005 東京都千代田区丸の内1-2-3", "address"),
        ("本社は大阪府大阪市北区梅田3丁目1番1号にある", "address"),
    ],
)
def test_each_kind_is_replaced_and_restored(text, kind):
    r = Redactor()
    out = r.redact(text)
    assert r.counts == {kind: 1}, out
    assert f"[{kind.upper()}_1]" in out
    assert r.restore(out) == text


@pytest.mark.parametrize(
    "text",
    [
        "2025年7月1日から9月30日まで、1件あたり14.2分を9.0分以下にする。",
        "予算 12,000,000円、うち運用 3,500,000円。版 1.2.3、2025-06-10 改訂。",
        f"注文番号 {WRONG_CHECK} は対象外。",  # twelve digits whose check digit fails
        "card 4111 1111 1111 1112 fails Luhn",
        "KPI | 71% | 90%以上 | 1500件 | 毎週",
    ],
)
def test_plan_figures_are_left_alone(text):
    r = Redactor()
    assert r.redact(text) == text and r.counts == {}


@given(st.text(max_size=200))
def test_restore_inverts_redact(text):
    r = Redactor()
    assert r.restore(r.redact(text)) == text


PLANTED = f"""# 問い合わせ対応 生成AI PoC計画

## 体制
PoCの責任者は業務改革部の佐藤花子（hanako.sato@example.co.jp、電話03-1234-5678）とする。
判定は2025年10月8日の移行判定会議で部長が行う。

## データ
学習には顧客台帳を使わない。検証用の記録に含まれた個人番号（例：{MY_NUMBER}）は削除する。
"""


def test_planted_personal_data_never_reaches_the_endpoint(tmp_path):
    doc = tmp_path / "plan.md"
    doc.write_text(PLANTED, encoding="utf-8")
    log = tmp_path / "audit.jsonl"
    with FakeOpenAI() as fake:

        def respond(req):
            text = passages(req)
            quote = next(line for line in text.splitlines() if "[EMAIL_1]" in line)
            return Reply.json({"criteria": [judgement(cid, 2, [quote]) for cid in asked(req)]})

        fake.responder = respond
        result = review(doc, engine="llm", llm_options=options(fake, audit_log=log))
        sent = "\n".join(r.raw for r in fake.requests)

    for secret in ("hanako.sato@example.co.jp", "03-1234-5678", MY_NUMBER, "1234-5678"):
        assert secret not in sent
    assert "[EMAIL_1]" in sent and "[PHONE_1]" in sent and "[MYNUMBER_1]" in sent
    # The quote came back with placeholders; the report shows (and verified) the document's text.
    roles = result.criterion("ROLES")
    assert roles.source == "llm"
    assert any("hanako.sato@example.co.jp" in e.quote for e in roles.evidence)
    assert result.llm is not None and result.llm.redactions == {
        "email": 1,
        "phone": 1,
        "mynumber": 1,
    }
    assert result.usage.dropped_quotes == 0

    # The audit log: one line per call, what it cost, never the text.
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == result.usage.llm_calls == 4
    for line in lines:
        assert line["outcome"] == "ok" and line["content_sha256"] == result.document.sha256
        assert line["endpoint"].startswith("127.0.0.1:") and line["model"] == "gpt-4.1-mini"
        assert line["prompt_tokens"] > 0 and line["redactions"]["email"] == 1
    assert sum(line["prompt_tokens"] for line in lines) == result.usage.prompt_tokens
    raw_log = log.read_text(encoding="utf-8")
    assert "佐藤" not in raw_log and "hanako" not in raw_log and "PoC" not in raw_log


def test_no_redact_sends_the_text_as_it_is(tmp_path):
    doc = tmp_path / "plan.md"
    doc.write_text(PLANTED, encoding="utf-8")
    with FakeOpenAI() as fake:
        fake.responder = lambda req: Reply.json(
            {"criteria": [judgement(cid, 1, []) for cid in asked(req)]}
        )
        result = review(doc, engine="llm", llm_options=options(fake, redact=False))
        sent = "\n".join(r.raw for r in fake.requests)
    assert "hanako.sato@example.co.jp" in sent
    assert result.llm is not None and result.llm.redacted is False and result.llm.redactions == {}
