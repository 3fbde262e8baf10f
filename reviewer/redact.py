"""Personal data out of what is sent to an LLM endpoint, placeholders in its place.

E-mail addresses, phone numbers (Japanese and international), マイナンバー (12 digits whose check
digit holds), payment card numbers (Luhn) and Japanese postal addresses (〒 and a postcode, or a
prefecture followed by a city and block numbers) are replaced by placeholders such as
[EMAIL_1]. The same value always gets the same placeholder, so the model can still tell two
people apart, and a quote that contains a placeholder is mapped back before it is verified.

Japanese traps: \\b never matches between kanji and digits, \\d also matches full-width and other
scripts' digits, and NFKC does not fold every dash. So digits are spelt out, boundaries are
lookarounds on digits only, and dashes are listed.
"""

from __future__ import annotations

import re
import threading

D = "[0-9０-９]"  # digits, ASCII and full-width, nothing else
SEP = "[-‐‑‒–—―−ー－ー\u2212 　.．]"  # hyphens and dashes Japanese text uses, spaces, dots
_NOT_DIGIT_BEFORE = r"(?<![0-9０-９])"
_NOT_DIGIT_AFTER = r"(?![0-9０-９])"
_NO_MORE_GROUPS = rf"(?!{SEP}?{D})"  # not the first part of a longer number

_AL = "A-Za-z0-9Ａ-Ｚａ-ｚ０-９"  # letters and digits, ASCII and full-width
EMAIL = re.compile(
    rf"(?<![{_AL}._%+\-＠])[{_AL}._%+\-．＿]+[@＠][{_AL}\-－]+(?:[.．][{_AL}\-－]+)*[.．][A-Za-zＡ-Ｚａ-ｚ]{{2,}}"
)
_CARD_SEP = "[ 　\\-‐－]"
CARD = re.compile(
    rf"{_NOT_DIGIT_BEFORE}(?:{D}{{4}}(?:{_CARD_SEP}?{D}{{4}}){{2}}{_CARD_SEP}?{D}{{1,7}}"
    rf"|{D}{{4}}{_CARD_SEP}?{D}{{6}}{_CARD_SEP}?{D}{{5}}){_NOT_DIGIT_AFTER}"
)
MYNUMBER = re.compile(
    rf"{_NOT_DIGIT_BEFORE}(?:{D}{{12}}|{D}{{4}}{SEP}{D}{{4}}{SEP}{D}{{4}}){_NO_MORE_GROUPS}"
)
PHONE = re.compile(
    "|".join(
        [
            # +81 3-1234-5678, +1 (555) 123-4567, +44 20 7946 0958
            rf"[+＋]{D}{{1,3}}{SEP}?(?:[(（]{D}{{1,4}}[)）]{SEP}?)?{D}{{1,4}}(?:{SEP}{D}{{2,4}}){{1,3}}{_NOT_DIGIT_AFTER}",
            # 03-1234-5678, 090-1234-5678, 0120-123-456, (03) 1234-5678
            rf"{_NOT_DIGIT_BEFORE}[(（]?[0０]{D}{{1,4}}[)）]?{SEP}?{D}{{1,4}}{SEP}{D}{{3,4}}{_NO_MORE_GROUPS}",
            # 09012345678, 0312345678
            rf"{_NOT_DIGIT_BEFORE}[0０][1-9１-９]{D}{{8,9}}{_NOT_DIGIT_AFTER}",
        ]
    )
)
_PREFECTURE = (
    "北海道|東京都|京都府|大阪府|青森県|岩手県|宮城県|秋田県|山形県|福島県|茨城県|栃木県|群馬県|埼玉県|"
    "千葉県|神奈川県|新潟県|富山県|石川県|福井県|山梨県|長野県|岐阜県|静岡県|愛知県|三重県|滋賀県|"
    "兵庫県|奈良県|和歌山県|鳥取県|島根県|岡山県|広島県|山口県|徳島県|香川県|愛媛県|高知県|福岡県|"
    "佐賀県|長崎県|熊本県|大分県|宮崎県|鹿児島県|沖縄県"
)
ADDRESS = re.compile(
    rf"〒\s?{D}{{3}}{SEP}{D}{{4}}(?:\s*(?:{_PREFECTURE})?[^\s、。,]{{0,40}}?{D}+(?:{SEP}{D}+)*(?:丁目|番地?|号)?)?"
    rf"|(?:{_PREFECTURE})[^\s、。,「」()（）]{{1,20}}?[市区町村郡][^\s、。,「」()（）]{{0,20}}?(?:{D}+(?:丁目|番地?|号|{SEP}))+{D}*"
)

KINDS = ("email", "mynumber", "card", "phone", "address")
_LABELS = {
    "email": "EMAIL",
    "mynumber": "MYNUMBER",
    "card": "CARD",
    "phone": "PHONE",
    "address": "ADDRESS",
}
_PLACEHOLDER = re.compile(r"\[(EMAIL|MYNUMBER|CARD|PHONE|ADDRESS)_(\d+)\]")


def _digits(text: str) -> list[int]:
    return [int(c) for c in text.translate(_FULLWIDTH) if c.isdigit()]


_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def mynumber_valid(text: str) -> bool:
    """The individual number's check digit (番号法施行令 第8条)."""
    digits = _digits(text)
    if len(digits) != 12:
        return False
    body, check = digits[:11], digits[11]
    total = 0
    for n, p in enumerate(reversed(body), start=1):
        total += p * (n + 1 if n <= 6 else n - 5)
    r = total % 11
    return check == (0 if r <= 1 else 11 - r)


def luhn_valid(text: str) -> bool:
    digits = _digits(text)
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


class Redactor:
    """Replaces personal data consistently across every text of one review."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._lock = threading.Lock()  # calls render their prompts in parallel

    @property
    def counts(self) -> dict[str, int]:
        """Distinct values replaced, by kind."""
        out: dict[str, int] = {}
        for kind, _ in self._by_value:
            out[kind] = out.get(kind, 0) + 1
        return out

    def redact(self, text: str) -> str:
        with self._lock:
            return self._redact(text)

    def _redact(self, text: str) -> str:
        text = EMAIL.sub(lambda m: self._token("email", m.group()), text)
        text = CARD.sub(
            lambda m: self._token("card", m.group()) if luhn_valid(m.group()) else m.group(), text
        )
        text = MYNUMBER.sub(
            lambda m: (
                self._token("mynumber", m.group()) if mynumber_valid(m.group()) else m.group()
            ),
            text,
        )
        text = ADDRESS.sub(lambda m: self._token("address", m.group()), text)
        text = PHONE.sub(lambda m: self._phone(m), text)
        return text

    def restore(self, text: str) -> str:
        """Placeholders back to the original values (for quotes and the report)."""
        return _PLACEHOLDER.sub(lambda m: self._by_placeholder.get(m.group(), m.group()), text)

    def _phone(self, m: re.Match[str]) -> str:
        value = m.group()
        if len(_digits(value)) < 9:  # dates and version numbers look like short phone numbers
            return value
        return self._token("phone", value)

    def _token(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._by_value:
            n = sum(1 for k, _ in self._by_value if k == kind) + 1
            placeholder = f"[{_LABELS[kind]}_{n}]"
            self._by_value[key] = placeholder
            self._by_placeholder[placeholder] = value
        return self._by_value[key]
