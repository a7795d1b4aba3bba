"""A load generator shared by the HTTP write benchmarks and the peer comparison (`bench/peer_fides.py`), so that
both sides are driven by exactly the same code: N keep-alive client processes, each sending its own prepared list
of requests (method, path, headers, body) as fast as the server answers; plus what the server spent (CPU seconds
of its processes, read from /proc) and an optional CPU burner that makes the machine busy ("contended" runs).
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import resource
import statistics
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Req:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


def _client(args: tuple[str, int, list[Req], float, mp.Queue]) -> None:
    host, port, requests, start_at, queue = args
    conn = http.client.HTTPConnection(host, port, timeout=60)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    while time.time() < start_at:
        time.sleep(0.002)
    begun = time.perf_counter()
    for req in requests:
        started = time.perf_counter()
        conn.request(req.method, req.path, body=req.body, headers=req.headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        statuses[response.status] += 1
    queue.put((latencies, dict(statuses), begun, time.perf_counter()))
    conn.close()


def drive(host: str, port: int, per_client: Sequence[list[Req]]) -> dict[str, object]:
    """Send each client's requests from its own process (all start together); throughput over the common window."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    start_at = time.time() + 1.0  # every client process is up before the first request
    procs = [ctx.Process(target=_client, args=((host, port, reqs, start_at, queue),)) for reqs in per_client]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = max(r[3] for r in results) - min(r[2] for r in results)
    latencies = sorted(x for r in results for x in r[0])
    statuses: Counter[int] = Counter()
    for r in results:
        statuses.update(r[1])
    return {
        "requests": len(latencies),
        "clients": len(per_client),
        "status_codes": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000, 3),
    }


def process_tree(root: int) -> list[int]:
    """`root` and every descendant process (gunicorn's master and workers, uvicorn's workers...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds spent so far by these processes (those that have exited count as 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    """Resident set size of one process in MiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measure(host: str, port: int, server_pid: int, per_client: Sequence[list[Req]]) -> dict[str, object]:
    """`drive`, plus the server's CPU seconds per request over the run (every process under `server_pid`)."""
    pids = process_tree(server_pid)
    before = cpu_seconds(pids)
    figures = drive(host, port, per_client)
    spent = cpu_seconds(pids) - before
    figures["server_cpu_ms_per_request"] = round(spent * 1000 / max(int(figures["requests"]), 1), 3)  # type: ignore[arg-type]
    return figures


def _burn(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        for _ in range(100_000):
            x += 1


@contextmanager
def cpu_burner(processes: int, *, max_seconds: float = 1800) -> Iterator[int]:
    """`processes` busy loops (the "contended" machine), stopped on exit or after `max_seconds` by themselves."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_burn, args=(time.time() + max_seconds,), daemon=True) for _ in range(processes)]
    for proc in procs:
        proc.start()
    try:
        time.sleep(1.0 if processes else 0)  # let the load average start to rise
        yield processes
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join()


def own_cpu_seconds() -> float:
    """This process's and its reaped children's CPU seconds (the load generator's own cost)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
