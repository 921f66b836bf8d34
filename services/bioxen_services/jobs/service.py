"""What a service's job routes call: :class:`JobService`, one per app (``init_app``).

A route parses and checks its request exactly as the synchronous endpoint does, then, instead of
``ctx.compute(kind, fn, ref, *args)``, calls ``jobs.submit(kind, ref, *args)`` with the same model
reference and arguments (see the kind tables in :mod:`..static.job_kinds` and
:mod:`..dynamic.job_kinds`). Submission runs the kind's plan in one of the replica's engines (the
model-level checks of the synchronous path, with its 4xx errors), splits the items into chunks and
queues them; everything after that happens in workers.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app, has_request_context

from .. import metrics
from ..dataplane import DataPlane
from ..errors import JobsUnavailable, LimitExceeded, ModelNotCached
from ..modelref import ModelRef
from . import kinds
from .collector import JobCollector
from .store import Job, JobStore


class JobService:
    def __init__(self, ctx: DataPlane, store: JobStore | None):
        self.ctx = ctx
        self._jobs = store

    @property
    def store(self) -> JobStore:
        if self._jobs is None:  # connect() raises the 503 that says what is missing
            self._jobs = JobStore.connect(self.ctx.settings, self.ctx.service)
        return self._jobs

    def submit(self, kind: str, model: ModelRef | None, *args, chunk_size: int | None = None) -> Job:
        """Check, split and queue a job of ``kind`` on ``model``; ``args`` are the arguments of the
        kind's synchronous engine function after the model (``model`` None: a kind whose arguments
        carry their models, an archive's; its functions get the engine's model store instead).
        ``chunk_size``: items per chunk (default: sized to take ``job_chunk_seconds``)."""
        store = self.store
        job_kind = kinds.kind(self.ctx.service, kind)
        if model is not None and model.kind == "sha256" and not store.has_model(model.value):
            raise ModelNotCached(f"no model with sha256 {model.value} was sent with an earlier job; a job "
                                 "needs the model text (inline) once, later jobs may name it by sha256")
        plan = self._plan(job_kind, model, args)
        chunks = None
        if plan.items is not None:
            limit = self.ctx.settings.max_job_items
            if len(plan.items) > limit:
                raise LimitExceeded(f"this {kind} job has {len(plan.items)} items, above the limit of {limit} "
                                    "per job; split it into several jobs")
            size = job_kind.chunk_size(plan, self.ctx.settings.job_chunk_seconds, chunk_size)
            chunks = [plan.items[i:i + size] for i in range(0, len(plan.items), size)] or [[]]
        job = store.create(kind, model, args, plan.context, chunks)
        metrics.JOBS_SUBMITTED.labels(self.ctx.service, kind).inc()
        return job

    def _plan(self, job_kind: kinds.Kind, model: ModelRef | None, args: tuple) -> kinds.Plan:
        if has_request_context():  # under the request's deadline, counted like its computations
            return self.ctx.compute("job_plan", job_kind.plan, model, *args)
        deadline = time.monotonic() + self.ctx.settings.request_timeout_seconds
        return self.ctx.runtime.run("job_plan", job_kind.plan, model, args, deadline=deadline)

    def status(self, job_id: str) -> Job:
        return self.store.job(job_id)

    def result(self, job_id: str) -> Any:
        """The merged answer, as the synchronous endpoint answers (409 until the job succeeded)."""
        return self.store.result(job_id)

    def cancel(self, job_id: str) -> Job:
        return self.store.cancel(job_id)

    def list(self, limit: int = 50) -> list[Job]:
        return self.store.jobs(limit)


def init_app(app: Flask) -> JobService:
    """The app's :class:`JobService` (``app.extensions["bioxen_jobs"]``); without ``BIOXEN_REDIS_URL``
    every call answers 503 saying so."""
    ctx: DataPlane = app.extensions["bioxen"]
    store = JobStore.connect(ctx.settings, ctx.service) if ctx.settings.redis_url else None
    service = JobService(ctx, store)
    app.extensions["bioxen_jobs"] = service
    if store is not None:
        metrics.add_live_collector(JobCollector(store))
    return service


def current() -> JobService:
    """The current app's job service (in a route)."""
    service = current_app.extensions.get("bioxen_jobs")
    if service is None:
        raise JobsUnavailable("this app was built without the job layer (jobs.init_app)")
    return service
