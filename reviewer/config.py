"""Named defaults, in one place."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent

# Choices shared by the CLI and review(); the web form will offer the same.
ENGINES: tuple[str, ...] = ("auto", "rules", "llm")
REPORT_LANGUAGES: tuple[str, ...] = ("ja", "en")

# Limits on input, so a huge file costs a clear error rather than the machine.
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_TEXT_CHARS = 5_000_000
MAX_PDF_PAGES = 2000

# Verdict thresholds (documented in README "Scoring").
APPROVE_MIN_SCORE = 70
REJECT_BELOW_SCORE = 40
RED_FLAG_PENALTY = 4  # points off the score per red flag
RED_FLAG_PENALTY_MAX = 20
# LLM engine: this many criteria where the LLM and the rules are two levels apart stop approval.
DISPUTES_BLOCK_APPROVAL = 3

# How many quotes a criterion shows at most.
MAX_EVIDENCE = 4
# Concrete aspects credited from outside the section that says most about a criterion.
SCATTERED_ASPECTS = 1


def data_dir(name: str) -> Path:
    """Locate a data folder (rubrics, prompts): installed copy first, then the source checkout."""
    override = os.environ.get(f"REVIEWER_{name.upper()}_DIR")
    if override:
        return Path(override)
    installed = PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    return PACKAGE_DIR.parent / name


def cache_dir() -> Path:
    """Where derived, document-free data is kept between runs (REVIEWER_CACHE_DIR overrides)."""
    override = os.environ.get("REVIEWER_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reviewer"


# The LLM engine. The model default is documented in README "LLM review"; REVIEWER_MODEL overrides.
DEFAULT_MODEL = "gpt-4.1-mini"


def llm_configured() -> bool:
    """An endpoint is configured when a key or an OpenAI-compatible base URL is set."""
    return bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))


def llm_model() -> str:
    return os.environ.get("REVIEWER_MODEL") or DEFAULT_MODEL


# LLM engine limits (README "LLM review"). Environment variables override the first four.
LLM_TIMEOUT_S = 60.0  # per call: REVIEWER_LLM_TIMEOUT
LLM_DEADLINE_S = 300.0  # whole review: REVIEWER_LLM_DEADLINE
LLM_CONCURRENCY = 4  # calls in flight: --concurrency / REVIEWER_CONCURRENCY
LLM_ATTEMPTS = 4  # tries per call on 429, 5xx, timeouts and connection errors
CHUNK_TOKENS = 500  # retrieval grain
LONG_DOCUMENT_TOKENS = 10_000  # from here, prompt tokens stay within 1.5x the document's
GROUP_MAX_TOKENS = 24_000  # document text in one call, whatever the budget

# Parsing runs in a child process with these limits (README "Limits").
PARSE_TIMEOUT_S = 60.0  # REVIEWER_PARSE_TIMEOUT
PARSE_MEMORY_MB = 2048  # REVIEWER_PARSE_MEMORY_MB, on top of what the process already maps


def parse_timeout() -> float:
    return positive_env("REVIEWER_PARSE_TIMEOUT", PARSE_TIMEOUT_S)


def parse_memory_mb() -> int:
    return int(positive_env("REVIEWER_PARSE_MEMORY_MB", PARSE_MEMORY_MB))


def positive_env(name: str, default: float) -> float:
    """A positive number from the environment, or the default; a bad value is a usage error."""
    from .errors import UsageError

    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"{name}={value!r} is not a number") from None
    if number <= 0:
        raise UsageError(f"{name} must be positive")
    return number
