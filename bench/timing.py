"""Timing helpers of the benchmark: paired samples (service and in-process interleaved, so drift from
other load on the machine hits both sides alike), medians and percentiles, and the row record."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def samples(fn: Callable[[], object], reps: int, warmup: int = 0) -> list[float]:
    for _ in range(warmup):
        fn()
    return [timed(fn)[0] for _ in range(reps)]


def paired(service: Callable[[], object], inprocess: Callable[[], object], reps: int,
           warmup: int) -> tuple[list[float], list[float]]:
    """Alternate the two paths (which one goes first alternates too); returns (service, in-process)."""
    for _ in range(warmup):
        service()
        inprocess()
    a: list[float] = []
    b: list[float] = []
    for i in range(reps):
        if i % 2:
            a.append(timed(service)[0])
            b.append(timed(inprocess)[0])
        else:
            b.append(timed(inprocess)[0])
            a.append(timed(service)[0])
    return a, b


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def stats(values: list[float]) -> dict:
    return {"n": len(values), "median": statistics.median(values) if values else None,
            "p10": percentile(values, 0.1), "p90": percentile(values, 0.9),
            "min": min(values) if values else None}


@dataclass
class Row:
    """One line of the table. ``kind`` says how ``value`` meets ``target``:
    "ratio_max" (service / in-process, at most), "speedup_min" (baseline / candidate, at least),
    "growth_max" (relative growth, at most), "report" (no target)."""

    id: str
    work: str
    reference: str
    kind: str
    target: float | None
    unit: str = "s"
    service: dict | None = None      # stats of the service (candidate) path
    reference_stats: dict | None = None  # stats of the in-process (baseline) path
    value: float | None = None       # the ratio / speed-up / growth that meets the target
    status: str = "pending"          # met | not met | reported | pending | failed
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def decide(self) -> "Row":
        if self.value is None:
            return self
        if self.kind == "ratio_max" or self.kind == "growth_max":
            self.status = "met" if self.value <= self.target else "not met"
        elif self.kind == "speedup_min":
            self.status = "met" if self.value >= self.target else "not met"
        else:
            self.status = "reported"
        return self

    def target_text(self) -> str:
        return {"ratio_max": f"ratio <= {self.target}", "speedup_min": f"speed-up >= {self.target}",
                "growth_max": f"growth <= {self.target:.0%}" if self.target is not None else "",
                "report": "reported"}[self.kind]

    def as_dict(self) -> dict:
        out = asdict(self)
        out["target_text"] = self.target_text()
        return out
