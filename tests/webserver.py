"""A real `review serve` in a subprocess on a free 127.0.0.1 port, for the web and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`review serve --port N` with the given environment; its log is kept in `log_path`."""

    def __init__(self, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.tmpdir = workdir / "tmp"  # TMPDIR of the server: must stay empty
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        full_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("REVIEWER_", "OPENAI_")) and k != "NO_COLOR"
        }
        full_env.update(
            REVIEWER_WORKERS="2",
            REVIEWER_CACHE_DIR=str(workdir / "cache"),
            TMPDIR=str(self.tmpdir),
            PYTHONUNBUFFERED="1",
        )
        full_env.update(env)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reviewer.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text("utf-8", "replace")

    def worker_pids(self) -> set[int]:
        """The server's review worker processes (its spawned children)."""
        children = set()
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            children.update(int(pid) for pid in (task / "children").read_text().split())
        workers = set()
        for pid in children:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:
                workers.add(pid)
        return workers

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
