"""Running one job chunk in a worker (what RQ calls: :func:`run_chunk`), and the RQ loop that takes
chunks (:class:`ChunkWorker`). The worker process itself is :mod:`.worker`, which imports this module
once it has set up the Prometheus multiprocess directory."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections import OrderedDict

import redis
from rq import SimpleWorker, get_current_job
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.timeouts import BaseDeathPenalty

from .. import metrics
from ..errors import (ChunkFailed, EngineFailed, ModelNotCached, NotReady, RequestCancelled, ServiceError)
from ..supervisor import Supervisor
from ..modelref import ModelRef
from . import kinds
from .store import ACTIVE, JobStore

log = logging.getLogger(__name__)

#: how often a running chunk looks whether its job was cancelled (or failed through another chunk)
CANCEL_POLL_SECONDS = 0.5
#: inline model texts a worker keeps (each fetched from the store once)
MODEL_TEXTS = 16


class RetryChunk(Exception):
    """Raised to RQ so that it queues the chunk again (its engine died; the attempt was counted)."""


class NoDeathPenalty(BaseDeathPenalty):
    """Chunk deadlines are the supervisor's (it kills the engine); RQ's SIGALRM would interrupt the
    waiting thread instead, leaving the engine busy."""

    def setup_death_penalty(self):
        pass

    def cancel_death_penalty(self):
        pass


class ChunkWorker(SimpleWorker):
    """An RQ loop that can run in a thread: the main thread handles the signals for every loop, and
    the chunk's claim lives ``heartbeat_ttl`` seconds unless renewed."""

    death_penalty_class = NoDeathPenalty
    heartbeat_ttl = 30

    def get_heartbeat_ttl(self, job) -> int:
        return self.heartbeat_ttl

    def _install_signal_handlers(self):
        pass

    def prepare_execution(self, job):
        """RQ keeps an execution's id in the job's registry 60 s longer than the execution itself: a
        chunk run again within that minute (its worker was lost) would fail in RQ's own bookkeeping
        ("Execution ... not found in Redis") after it ran. Forget the lost executions first."""
        registry = job.execution_registry
        ids = [raw.decode() for raw in self.connection.zrange(registry.key, 0, -1)]
        lost = [i for i in ids if not self.connection.exists(Execution(i, job.id, self.connection).key)]
        if lost:
            self.connection.zrem(registry.key, *lost)
        return super().prepare_execution(job)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """RQ's wait for a chunk, in slices of ``timeout`` (the heartbeat period): between them the
        loop stops when asked (a thread gets no signal to break its wait) and runs maintenance (finding
        chunks of lost workers) when it is due."""
        while True:
            if self._stop_requested:
                raise StopRequested()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
            found = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time=timeout)
            if found is not None:
                return found


class ChunkRunner:
    """Runs chunks of one service's jobs in its supervisor's engines (called by RQ: :func:`run_chunk`)."""

    def __init__(self, service: str, settings, supervisor: Supervisor, store: JobStore):
        self.service = service
        self.settings = settings
        self.supervisor = supervisor
        self.store = store
        self._texts: OrderedDict[str, ModelRef] = OrderedDict()
        self._lock = threading.Lock()
        self.local = threading.local()  # .worker: the ChunkWorker of the calling thread
        for reason in ("engine_failed", "worker_lost"):  # exported at 0, so rates exist before the first
            metrics.JOB_CHUNK_RETRIES.labels(service, reason)

    def run(self, job_id: str, index: int) -> None:
        store = self.store
        if store.status(job_id) not in ACTIVE:  # cancelled, failed through another chunk, or expired
            metrics.JOB_CHUNKS.labels(self.service, "-", "skipped").inc()
            return
        attempts = store.start_attempt(job_id, index)
        spec = store.spec(job_id)
        if spec is None:  # ended between the two reads
            return
        kind = kinds.kind(self.service, spec["kind"])
        if attempts > 1:
            reason = "engine_failed" if store.last_error(job_id, index) else "worker_lost"
            metrics.JOB_CHUNK_RETRIES.labels(self.service, reason).inc()
        if attempts > self.settings.job_chunk_attempts:  # each earlier run took its worker down with it
            store.fail(job_id, self._poison(job_id, index, attempts - 1, spec["kind"]))
            metrics.JOB_CHUNKS.labels(self.service, kind.name, "failed").inc()
            return
        started = time.perf_counter()
        outcome, cause = "failed", ""
        try:
            fn, args = kind.part(spec["args"], spec["context"], store.items(job_id, index))
            part = self._compute(kind.name, fn, spec["ref"], args, job_id)
            outcome = "done"
        except RequestCancelled:  # its job was cancelled (or failed through another chunk) meanwhile
            outcome = "skipped"
        except (EngineFailed, NotReady) as exc:  # this engine died, or none could serve: again, elsewhere
            cause = exc.message.split(". The request is not retried")[0]  # the synchronous path's advice
            outcome = self._again(job_id, index, attempts, spec["kind"], cause)
        except ServiceError as exc:  # an answer (4xx, a timeout): the synchronous request's error
            store.fail(job_id, exc)
        except Exception as exc:  # noqa: BLE001 - a defect of this worker: bounded like an engine lost
            log.exception("chunk %s of job %s failed in the worker", index, job_id)
            cause = f"{type(exc).__name__} in the worker"
            outcome = self._again(job_id, index, attempts, spec["kind"], cause)
        finally:
            metrics.JOB_CHUNK_SECONDS.labels(self.service, kind.name).observe(time.perf_counter() - started)
            metrics.JOB_CHUNKS.labels(self.service, kind.name, outcome).inc()
        if outcome == "retry":
            raise RetryChunk(cause)  # RQ queues it again (the Retry given at submission)
        if outcome == "done" and store.save_part(job_id, index, part):  # every chunk is in: this worker merges
            store.succeed(job_id, kind.merge(spec["args"], spec["context"], store.parts(job_id)))

    def _again(self, job_id: str, index: int, attempts: int, kind: str, cause: str) -> str:
        """A run that ended without an answer: "retry", or, after the chunk's last attempt, "failed"
        (its job fails)."""
        self.store.note_error(job_id, index, cause)
        if attempts >= self.settings.job_chunk_attempts:
            self.store.fail(job_id, self._poison(job_id, index, attempts, kind))
            return "failed"
        return "retry"

    def _poison(self, job_id: str, index: int, attempts: int, kind: str) -> ChunkFailed:
        total = int(self.store.redis.hget(self.store.key(job_id), "total") or 0)
        cause = self.store.last_error(job_id, index) or (
            "its worker stopped while running it (killed, or out of memory)")
        return ChunkFailed(f"chunk {index + 1} of {total} of this {kind} job ended without an answer on each of "
                           f"its {attempts} attempts; the last: {cause}. The job was stopped so that the chunk "
                           "takes down no more engines or workers", details={"chunk": index, "attempts": attempts})

    def _compute(self, kind: str, fn, ref: ModelRef, args: tuple, job_id: str):
        deadline = time.monotonic() + self.settings.job_chunk_timeout_seconds
        gone = self._watch(job_id)
        if ref is None or ref.kind != "sha256":
            return self.supervisor.run(kind, fn, ref, args, deadline=deadline, gone=gone)
        try:  # an engine that compiled the model before needs only its name
            return self.supervisor.run(kind, fn, ref, args, deadline=deadline, gone=gone)
        except ServiceError as exc:  # errors come back from engines by code
            if exc.code != ModelNotCached.code:
                raise
        return self.supervisor.run(kind, fn, self._text(ref.value), args, deadline=deadline, gone=gone)

    def _text(self, sha256: str) -> ModelRef:
        """An inline model's text, fetched from the store once per worker."""
        with self._lock:
            if sha256 in self._texts:
                self._texts.move_to_end(sha256)
                return self._texts[sha256]
        ref = self.store.model(sha256)
        if ref is None:
            raise ModelNotCached(f"the job's model (sha256 {sha256}) is no longer in the job store")
        with self._lock:
            self._texts[sha256] = ref
            while len(self._texts) > MODEL_TEXTS:
                self._texts.popitem(last=False)
        return ref

    def _watch(self, job_id: str):
        """The supervisor's ``gone`` check while a chunk runs (polled every 50 ms): renews the chunk's
        claim, and says whether its job ended meanwhile."""
        worker = getattr(self.local, "worker", None)
        rq_job = get_current_job()
        last = {"beat": time.monotonic(), "look": time.monotonic()}

        def gone() -> bool:
            now = time.monotonic()
            try:
                if worker is not None and rq_job is not None and \
                        now - last["beat"] >= self.settings.job_heartbeat_seconds:
                    last["beat"] = now
                    worker.maintain_heartbeats(rq_job)
                if now - last["look"] >= CANCEL_POLL_SECONDS:
                    last["look"] = now
                    return self.store.status(job_id) not in ACTIVE
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("job store unreachable while chunk of %s runs: %s", job_id, exc)
            return False

        return gone


#: the process's runner (a worker process serves one service; :func:`install`)
_RUNNER: ChunkRunner | None = None


def install(runner: ChunkRunner) -> None:
    global _RUNNER
    _RUNNER = runner


def run_chunk(job_id: str, index: int) -> None:
    """What RQ calls for each chunk."""
    _RUNNER.run(job_id, index)


def _heartbeat_ttl(settings) -> int:
    """Seconds a chunk's claim lives unless renewed: three renewal periods, and 2 s for a busy Redis."""
    return math.ceil(3 * settings.job_heartbeat_seconds) + 2


def build_workers(store: JobStore, settings, count: int) -> list[ChunkWorker]:
    interval = max(1, math.ceil(settings.job_heartbeat_seconds))
    workers = []
    for i in range(count):
        worker = ChunkWorker([store.queue], connection=store.redis, name=f"{store.service}.{socket.gethostname()}."
                             f"{os.getpid()}.{i}", worker_ttl=interval + 15,  # dequeue waits `interval` s
                             maintenance_interval=interval, log_job_description=False)
        worker.heartbeat_ttl = _heartbeat_ttl(settings)
        workers.append(worker)
    return workers


