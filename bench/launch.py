"""Services for the benchmark: the production command (``bioxen serve``) started through the test
suite's :class:`ServiceProcess`, plus what the benchmark reads about them (engine pids, RSS)."""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support import ServiceProcess  # noqa: E402  (tests/support.py: the real `bioxen serve` as a subprocess)


def engine_pids(service: ServiceProcess) -> list[int]:
    """The engine processes of a replica, as its own /readyz lists them."""
    import requests

    return requests.get(service.url + "/readyz", timeout=10).json()["engines"]["engines"]


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` from /proc/<pid>/status (VmRSS, kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def start(service: str, host: str = "127.0.0.1", workers: int = 1, env: dict | None = None,
          preload: str | None = None) -> tuple[ServiceProcess, float]:
    """Start a service; returns it and the seconds from spawn to its first 200 on /readyz."""
    proc = ServiceProcess(service, host=host, workers=workers, env=env, preload=preload)
    started = time.perf_counter()
    proc.start(wait=300)
    return proc, time.perf_counter() - started


@contextmanager
def services(*specs: dict):
    """Start every spec (keyword arguments of :func:`start`), yield the ServiceProcess list, stop all."""
    with ExitStack() as stack:
        procs = []
        for spec in specs:
            proc, _ = start(**spec)
            stack.callback(proc.stop)
            procs.append(proc)
        yield procs


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (/proc/<pid>/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers_cpu(procs) -> float:
    return sum(cpu_seconds(pid) for proc in procs for pid in engine_pids(proc))
