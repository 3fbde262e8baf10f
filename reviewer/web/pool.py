"""Worker processes that run reviews off the event loop, one job per process at a time.

Parsing and the rules are CPU-bound Python, so they run in separate processes (as many as there
are cores by default): throughput scales with the cores and the event loop stays free for other
users. A job that outlives its deadline is not waited for: its process is killed and a fresh one
takes its place, so a document that makes a parser spin costs one worker for a moment, not the
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing as mp
import signal
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("reviewer.web")

READY = "ready"
START_TIMEOUT_S = 120.0


class WorkerCrashed(Exception):
    """The worker process died while it held a job (killed, out of memory, a crash in C code)."""


def _resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _worker_main(conn: Connection, target: str, warm_up: str | None) -> None:
    """A worker's life: warm up, say ready, then answer jobs until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    func = _resolve(target)
    if warm_up:
        _resolve(warm_up)()
    conn.send(READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the server went away
            return
        conn.send(func(job))


class _Worker:
    def __init__(self, ctx: Any, target: str, warm_up: str | None):
        parent, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, target, warm_up), name="reviewer-worker", daemon=True
        )
        self.process.start()
        child.close()
        self.conn = parent
        self.pending: Future[Any] | None = None  # the thread waiting for this worker's answer

    def wait_ready(self) -> _Worker:
        if not self.conn.poll(START_TIMEOUT_S) or self.conn.recv() != READY:
            self.stop()
            raise RuntimeError("a review worker did not start")
        return self

    def call(self, job: Any) -> Any:
        self.conn.send(job)
        return self.conn.recv()

    def stop(self) -> None:
        self.process.kill()
        self.process.join(10)
        if self.pending is not None:  # its reader sees the pipe close; let it finish first
            wait_futures([self.pending], timeout=10)
        self.conn.close()
        with contextlib.suppress(ValueError):
            self.process.close()


class WorkerPool:
    """`size` processes running `target` ("module:function"), each warmed up by `warm_up`."""

    def __init__(self, size: int, target: str, warm_up: str | None = None):
        self.size = max(1, size)
        self._target = target
        self._warm_up = warm_up
        self._ctx = mp.get_context("spawn")  # no fork of a process that runs threads and a loop
        self._threads = ThreadPoolExecutor(2 * self.size + 2, thread_name_prefix="reviewer-pool")
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._busy: set[_Worker] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(
            *(loop.run_in_executor(self._threads, self._spawn) for _ in range(self.size))
        )
        for worker in workers:
            self._idle.put_nowait(worker)

    def _spawn(self) -> _Worker:
        return _Worker(self._ctx, self._target, self._warm_up).wait_ready()

    async def run(self, job: Any) -> Any:
        """Run one job in a worker. Cancelling this (a deadline) kills the worker running it."""
        worker = await self._idle.get()
        if not worker.process.is_alive():
            self._retire(worker)
            return await self.run(job)
        self._busy.add(worker)
        worker.pending = self._threads.submit(worker.call, job)
        try:
            result = await asyncio.wrap_future(worker.pending)
        except (EOFError, OSError) as exc:
            self._retire(worker)
            raise WorkerCrashed(f"exit code {worker.process.exitcode}") from exc
        except BaseException:  # cancelled: the job is abandoned with its process
            self._retire(worker)
            raise
        worker.pending = None
        self._busy.discard(worker)
        self._idle.put_nowait(worker)
        return result

    def _retire(self, worker: _Worker) -> None:
        """Kill the worker now (freeing its core) and start a replacement in the background."""
        self._busy.discard(worker)
        if worker.process.is_alive():
            worker.process.kill()
        task = asyncio.get_running_loop().create_task(self._replace(worker))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _replace(self, old: _Worker) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._threads, old.stop)
        for attempt in range(3):
            if self._closed:
                return
            try:
                worker = await loop.run_in_executor(self._threads, self._spawn)
            except Exception as exc:  # keep serving with one worker fewer, and say so
                log.error("could not start a review worker (attempt %d): %s", attempt + 1, exc)
                await asyncio.sleep(1)
                continue
            if self._closed:
                worker.stop()
                return
            self._idle.put_nowait(worker)
            return

    async def close(self) -> None:
        self._closed = True
        for task in list(self._background):
            task.cancel()
        workers = list(self._busy)
        while not self._idle.empty():
            workers.append(self._idle.get_nowait())
        for worker in workers:
            if worker.process.is_alive():
                worker.process.kill()
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._threads, w.stop) for w in workers), return_exceptions=True
        )
        self._threads.shutdown(wait=False, cancel_futures=True)
