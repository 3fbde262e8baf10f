"""The web form's texts in Japanese and English (strings.yaml), and the UI language choice."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import yaml

from ..config import REPORT_LANGUAGES

DEFAULT_UI = "en"


@cache
def _load() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(files("reviewer.web").joinpath("strings.yaml").read_text("utf-8"))
    for key, text in data.items():
        if not (isinstance(text, dict) and sorted(text) == sorted(REPORT_LANGUAGES)):
            raise ValueError(f"reviewer/web/strings.yaml: {key} needs ja and en")
    return data


@cache
def table(lang: str) -> dict[str, str]:
    """Every text in one language ("ja" or "en")."""
    if lang not in REPORT_LANGUAGES:
        lang = DEFAULT_UI
    return {key: text[lang] for key, text in _load().items()}


def ui_language(query: str | None, accept_language: str | None) -> str:
    """?lang= when it names ja or en, else the first of ja/en in Accept-Language, else English."""
    if query in REPORT_LANGUAGES:
        return query
    best, best_q = DEFAULT_UI, -1.0
    for i, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in REPORT_LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        q -= i * 1e-6  # equal weights: the earlier tag wins
        if q > 0 and q > best_q:
            best, best_q = primary, q
    return best
