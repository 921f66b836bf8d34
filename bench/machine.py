"""What the benchmark ran on: CPUs, memory, load, and the versions of the engines and servers."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cobra", "optlang", "swiglpk", "libroadrunner", "antimony", "flask", "waitress", "requests",
            "numpy")


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 ** 2, 1)
    return float("nan")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except OSError:
        return "unknown"


def describe() -> dict:
    return {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "cpu": _cpu_model(),
            "memory_gib": _mem_total_gib(), "python": platform.python_version(),
            "platform": platform.platform(), "versions": {p: _version(p) for p in PACKAGES},
            "commit": _commit(), "load_before": loadavg(),
            "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                        "MKL_NUM_THREADS")}}
