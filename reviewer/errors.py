"""One error base for everything the user can cause; the CLI turns these into one-line messages."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    BELOW_THRESHOLD = 1  # reviewed, but under --fail-under or a --require gate
    UNUSABLE = 2  # unusable input or usage error


class ReviewerError(Exception):
    """Base for errors with a message meant for the user."""


class ParseError(ReviewerError):
    """A file that cannot be read as a document."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class RubricError(ReviewerError):
    """A rubric file that does not validate; names the file and the field."""

    def __init__(self, path: str, field: str, reason: str):
        self.path = path
        self.field = field
        self.reason = reason
        super().__init__(f"rubric {path}: {field}: {reason}")


class UsageError(ReviewerError):
    """A command line that cannot be acted on."""


class LLMError(ReviewerError):
    """An endpoint problem that retrying cannot cure (bad key, no quota, unknown model)."""
