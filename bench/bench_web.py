"""Load on the web API (`review serve` on 127.0.0.1), measured against the in-process review.

Prints, in one run, for a generated ~10-page DOCX plan (bench_review.make_docx):
- the in-process review time of that file (parse_bytes + review + JSON, median) — the unit;
- concurrency 1: p95 latency / review time (target <= 1.6: the HTTP path adds little);
- concurrency 4: throughput x review time (target >= 0.7: parsing is CPU-bound and runs in
  worker processes, so throughput grows with the cores and is not capped by the event loop);
- concurrency 8, 200 uploads: requests/s, p50/p95/max latency, errors, server memory (main
  process and workers: peak, and RSS after the first 20 requests against the end: flat);
- the same with a 20 MB junk upload mixed in every 20 requests (answered 415, others unharmed);
- an over-limit upload answered 413: by Content-Length before the body (target < 100 ms), and
  for a chunked body with no length, from the first byte to the answer.

Usage: python bench/bench_web.py [--pages 10] [--uploads 200] [--clients 8]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_review import make_docx  # noqa: E402

JUNK_BYTES = 20 * 1024 * 1024  # the default upload limit: read in full, then refused by type


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Memory:
    """Samples the server's and its workers' resident memory from /proc while the load runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, int, int]] = []  # (time, main kB, workers kB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _children(self) -> list[int]:
        pids = []
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
        return pids

    @staticmethod
    def _status(pid: int, field: str) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def now(self) -> tuple[int, int]:
        main = self._status(self.pid, "VmRSS")
        workers = sum(self._status(p, "VmRSS") for p in self._children())
        return main, workers

    def peak(self) -> tuple[int, int]:
        """VmHWM (the kernel's own peak) of the main process and the sum over the workers."""
        return (
            self._status(self.pid, "VmHWM"),
            sum(self._status(p, "VmHWM") for p in self._children()),
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), *self.now()))
            time.sleep(0.1)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "OPENAI_"))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reviewer.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,  # one log line per request: not what is measured
            stderr=subprocess.DEVNULL,
        )
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


def in_process_time(data: bytes, name: str, repeat: int) -> float:
    from reviewer.parse import parse_bytes
    from reviewer.report import render
    from reviewer.review import review

    def once() -> float:
        t0 = time.perf_counter()
        render(review(parse_bytes(data, name), engine="rules"), "json")
        return time.perf_counter() - t0

    once()  # warm: rubric, matchers
    return statistics.median(once() for _ in range(repeat))


def load(
    url: str, uploads: list[tuple[str, bytes]], clients: int
) -> tuple[float, list[tuple[str, int, float]]]:
    """Send every upload with `clients` concurrent clients; (wall time, [(name, status, s)])."""
    local = threading.local()

    def send(item: tuple[str, bytes]) -> tuple[str, int, float]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120)
        name, data = item
        t0 = time.perf_counter()
        try:
            status = local.client.post(
                url + "/api/review", files={"file": (name, data)}
            ).status_code
        except httpx.HTTPError:
            status = 0
        return name, status, time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(send, uploads))
    return time.perf_counter() - t0, results


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def early_413(port: int) -> float:
    """Seconds from sending headers that declare 50 MB to reading the 413 (no body sent)."""
    head = (
        f"POST /api/review HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        t0 = time.perf_counter()
        s.sendall(head)
        answer = s.recv(4096)
        elapsed = time.perf_counter() - t0
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    return elapsed


def chunked_413(port: int) -> float:
    """Seconds from the first byte of a chunked, never-ending body to the 413 arriving."""
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n\r\n'
    chunk = b"%PDF-" + b"0" * (256 * 1024 - 5)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setblocking(False)
        t0 = time.perf_counter()
        s.sendall(
            (
                f"POST /api/review HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
            ).encode()
            + b"%x\r\n%s\r\n" % (len(part), part)
        )
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        pending = memoryview(frame)
        answer = b""
        while time.perf_counter() - t0 < 10:
            with contextlib.suppress(BlockingIOError):
                answer = s.recv(4096)
                break
            try:
                sent = s.send(pending)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            pending = pending[sent:] or memoryview(frame)  # chunk after chunk, never the last
        elapsed = time.perf_counter() - t0
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    return elapsed


def summary(label: str, wall: float, results: list[tuple[str, int, float]], good: str) -> dict:
    lat = [t for name, status, t in results if name == good]
    errors = sum(1 for name, status, _ in results if name == good and status != 200)
    other = [status for name, status, _ in results if name != good]
    row = {
        "label": label,
        "n": len(lat),
        "rps": len(lat) / wall,
        "p50": pct(lat, 0.5),
        "p95": pct(lat, 0.95),
        "max": max(lat),
        "errors": errors,
        "other": other,
    }
    extra = f", junk answered {sorted(set(other))} x{len(other)}" if other else ""
    print(
        f"{label}: {row['n']} uploads in {wall:.1f} s = {row['rps']:.1f} req/s; latency p50 "
        f"{row['p50'] * 1000:.0f} ms, p95 {row['p95'] * 1000:.0f} ms, max {row['max'] * 1000:.0f} ms; "
        f"errors {errors}{extra}"
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--uploads", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"plan-{args.pages}.docx"
        make_docx(path, args.pages)
        data = path.read_bytes()
    name = path.name
    unit = in_process_time(data, name, args.repeat)
    print(
        f"file: {name}, {len(data) / 1024:.0f} KB; in-process review (parse + rules + JSON), "
        f"median of {args.repeat}: {unit * 1000:.0f} ms; cores: {os.cpu_count()}"
    )

    server = Server()
    try:
        warm = [(name, data)] * 4
        load(server.url, warm, 2)
        mem = Memory(server.proc.pid)
        with mem:
            wall, res = load(server.url, [(name, data)] * 40, 1)
            c1 = summary("concurrency 1", wall, res, name)
            wall, res = load(server.url, [(name, data)] * 80, 4)
            c4 = summary("concurrency 4", wall, res, name)

            first = [(name, data)] * 20
            wall_a, res_a = load(server.url, first, args.clients)
            after_20 = mem.now()
            wall_b, res_b = load(server.url, [(name, data)] * (args.uploads - 20), args.clients)
            c8 = summary(f"concurrency {args.clients}", wall_a + wall_b, res_a + res_b, name)
            at_end = mem.now()

            junk = os.urandom(JUNK_BYTES)
            mixed = [
                ("junk.pdf", junk) if i % 20 == 10 else (name, data) for i in range(args.uploads)
            ]
            wall, res = load(server.url, mixed, args.clients)
            cj = summary(f"concurrency {args.clients} + 20 MB junk every 20", wall, res, name)
            after_junk = mem.now()
            load(server.url, [(name, data)] * args.uploads, args.clients)
            after_more = mem.now()
        peak_main, peak_workers = mem.peak()
        t_early = statistics.median(early_413(server.port) for _ in range(5))
        t_chunked = statistics.median(chunked_413(server.port) for _ in range(3))
        alive = httpx.get(server.url + "/healthz").status_code
    finally:
        server.stop()

    def rss(pair: tuple[int, int]) -> str:
        return f"{pair[0] / 1024:.0f} + {pair[1] / 1024:.0f} MB"

    print(
        f"server memory (main + {os.cpu_count()} workers): peak (VmHWM) {rss((peak_main, peak_workers))}; "
        f"RSS after 20 requests {rss(after_20)}, after {args.uploads} {rss(at_end)}, "
        f"after the junk run {rss(after_junk)}, after {args.uploads} more {rss(after_more)}"
    )
    print(
        f"over-limit upload: 413 by Content-Length in {t_early * 1000:.1f} ms (before any body); "
        f"chunked, no length: 413 {t_chunked * 1000:.1f} ms after the first byte; /healthz {alive}"
    )
    errors = c1["errors"] + c4["errors"] + c8["errors"] + cj["errors"]
    ratio1 = c1["p95"] / unit
    ratio4 = c4["rps"] * unit
    print("ratios (targets):")
    print(f"  concurrency 1: p95 / in-process review      {ratio1:.2f}  (<= 1.6)")
    print(f"  concurrency 4: throughput x review time     {ratio4:.2f}  (>= 0.7)")
    print(
        f"  concurrency {args.clients}: throughput x review time     {c8['rps'] * unit:.2f}"
        f"  (cores: {os.cpu_count()})"
    )
    print(
        f"  with 20 MB junk: p95 / p95 without          {cj['p95'] / c8['p95']:.2f}"
        f"  (junk: {sorted(set(cj['other']))})"
    )
    print(
        f"  memory end / after 20 requests            {sum(at_end) / sum(after_20):.2f}  (flat: ~1)"
    )
    print(f"  413 by Content-Length, ms                   {t_early * 1000:.1f}  (< 100)")
    print(f"  errors on good files                        {errors}  (0)")


if __name__ == "__main__":
    main()
