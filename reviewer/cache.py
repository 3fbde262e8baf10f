"""The LLM result cache: one SQLite file under the user's cache folder, document text never keyed.

A row holds one criterion's judgement as the model gave it, keyed by a hash of the document's
content, the criterion, the rubric and prompt versions, the model and the sample number, so
re-reviewing an unchanged document makes no calls and any change that could alter an answer misses.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
create table if not exists judgements (
    key text primary key,
    value text not null,
    created real not null
)
"""


class Cache:
    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = folder / "llm.sqlite3"
        self._lock = threading.Lock()
        # The file holds quotes from reviewed documents: readable by the user only.
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        with self._lock, self._db:
            self._db.execute("pragma journal_mode=wal")
            self._db.execute(_SCHEMA)

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("select value from judgements where key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "insert or replace into judgements (key, value, created) values (?, ?, ?)",
                (key, value, time.time()),
            )

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
