"""What a job kind is: how a request is checked and split, what each chunk runs, how the parts merge.

A kind is described by four functions over the arguments of its synchronous engine function (the
``args`` a route passes to ``ctx.compute(kind, fn, ref, *args)``):

- ``plan(model, *args) -> Plan`` runs in an engine of the service at submission: it checks the
  request against the model as the synchronous path does (same 4xx errors) and lists the items to
  split (reactions, deletions, grid points, repetitions), or none for a one-chunk job;
- ``part(args, context, items) -> (fn, args)`` is what a chunk runs in a worker's engine,
  ``fn(model, *args)``; for a one-chunk job, the synchronous function itself;
- ``merge(args, context, parts) -> answer`` builds, in the worker that ends the last chunk, exactly
  the synchronous function's answer from the chunks' answers (in item order).

The kinds themselves live beside their engines (:mod:`..static.job_kinds`, :mod:`..dynamic.job_kinds`).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ValidationError


@dataclass
class Plan:
    #: what is split between chunks, in answer order; None: the job is one chunk
    items: list | None = None
    #: what every chunk needs besides its items (a seed drawn once, a scan's parameter names)
    context: dict[str, Any] = field(default_factory=dict)
    #: chunks start at multiples of it (an FVA's restart blocks, see static.variability)
    align: int = 1
    #: estimated seconds per item on this model, from which chunks are sized (None: ``default_chunk``)
    item_seconds: float | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    plan: Callable[..., Plan]
    part: Callable[[tuple, dict, list | None], tuple[Callable, tuple]]
    merge: Callable[[tuple, dict, list], Any]
    #: items per chunk when the plan gives no estimate
    default_chunk: int = 100

    def chunk_size(self, plan: Plan, chunk_seconds: float, asked: int | None = None) -> int:
        """Items per chunk: as asked, else sized to take ``chunk_seconds``; a multiple of the plan's
        alignment either way."""
        if asked is not None:
            if asked < 1:
                raise ValidationError(f"chunk_size must be at least 1, got {asked}")
            size = asked
        elif plan.item_seconds:
            size = max(1, math.floor(chunk_seconds / plan.item_seconds))
        else:
            size = self.default_chunk
        return math.ceil(size / plan.align) * plan.align


def one_chunk(fn: Callable) -> tuple[Callable, Callable]:
    """``part`` and ``merge`` of a kind that runs its synchronous function whole."""

    def part(args: tuple, context: dict, items: list | None) -> tuple[Callable, tuple]:
        return fn, args

    def merge(args: tuple, context: dict, parts: list) -> Any:
        return parts[0]

    return part, merge


def kinds(service: str) -> dict[str, Kind]:
    """The job kinds of a service, by name."""
    module = importlib.import_module(f"bioxen_services.{service}.job_kinds")
    return {kind.name: kind for kind in module.KINDS}


def kind(service: str, name: str) -> Kind:
    known = kinds(service)
    if name not in known:
        raise ValidationError(f"unknown job kind {name!r} on the {service} service; choose one of {sorted(known)}")
    return known[name]
