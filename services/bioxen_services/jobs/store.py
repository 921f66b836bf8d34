"""Jobs as records in Redis: what services write at submission and read for status and results, and
what workers write as chunks end. One Redis server (not Cluster) per engine's services and workers.

Keys, under ``bioxen:``::

    job:<id>               hash: service, kind, status, created, started, finished, total, chunk_size, error
    job:<id>:spec          the model reference, the request's arguments and the plan's context
    job:<id>:items         hash: chunk index -> its items (split jobs)
    job:<id>:parts         hash: chunk index -> its answer, until the job ends
    job:<id>:attempts      hash: chunk index -> runs started
    job:<id>:errors        hash: chunk index -> why its last run ended (named in a poison chunk's error)
    job:<id>:result        the merged answer
    jobs:<service>         sorted set: job ids by creation time (the list)
    jobs:<service>:<state> sorted set: job ids by when they entered the state (the counts)
    model:<sha256>         an inline model (its text), stored once and kept while jobs may use it

Every status change goes through one Lua script that checks the state it leaves (a job cancelled
while its last chunk ran stays cancelled), moves the id between the state sets, and, for a job that
ended, deletes what only chunks needed and sets how long the rest is kept. Values are pickled, as
RQ pickles the chunks' calls: Redis must be reachable by the services and their workers only.
"""

from __future__ import annotations

import json
import math
import pickle
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import urlsplit

import redis
from rq import Queue, Retry
from rq.job import Job as RqJob

from ..errors import JobNotFinished, JobsUnavailable, ServiceError, UnknownJob
from ..modelref import ModelRef

PREFIX = "bioxen:"
STATES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE = ("queued", "running")
#: a job still queued or running this long after it was submitted is dropped (no worker took it)
ACTIVE_TTL_SECONDS = 7 * 86_400
#: what a chunk runs in a worker (RQ calls it by this name)
RUN_CHUNK = "bioxen_services.jobs.runner.run_chunk"

_TRANSITION = """
-- KEYS: 1 the job's hash, 2 its result, 3.. what a job that ended no longer needs
-- ARGV: 1 id, 2 prefix of the state sets, 3 new state, 4 now, 5 seconds kept once ended (0: not ended),
--       6 states it may leave (comma-separated), 7 the result ('' for none), 8.. field, value pairs
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return false end
if not string.find(',' .. ARGV[6] .. ',', ',' .. current .. ',', 1, true) then return current end
redis.call('HSET', KEYS[1], 'status', ARGV[3])
for i = 8, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZREM', ARGV[2] .. current, ARGV[1])
redis.call('ZADD', ARGV[2] .. ARGV[3], ARGV[4], ARGV[1])
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  if ARGV[7] ~= '' then redis.call('SET', KEYS[2], ARGV[7], 'EX', ttl) end
  for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
end
return 'ok'
"""


def new_job_id() -> str:
    """An id nobody can guess (144 random bits)."""
    return secrets.token_urlsafe(18)


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_envelope(error: ServiceError) -> dict:
    """What a failed job reports: the error the synchronous request would have answered."""
    return {"code": error.code, "message": error.message, "status": error.status_code, "details": error.details}


@dataclass(frozen=True)
class Job:
    """A job as its status answer shows it."""

    id: str
    service: str
    kind: str
    status: str
    done: int
    total: int
    created: float
    started: float | None = None
    finished: float | None = None
    error: dict | None = None

    @property
    def location(self) -> str:
        return f"/v1/jobs/{self.id}"

    def to_dict(self) -> dict:
        body = {"id": self.id, "service": self.service, "kind": self.kind, "status": self.status,
                "progress": {"done": self.done, "total": self.total}, "created": _iso(self.created),
                "started": _iso(self.started), "finished": _iso(self.finished)}
        if self.error is not None:
            body["error"] = self.error
        return body


def _redacted(url: str) -> str:
    """The Redis URL without its password, for messages."""
    parts = urlsplit(url)
    where = parts.hostname or parts.path or "?"
    return f"{parts.scheme}://{where}{f':{parts.port}' if parts.port else ''}{parts.path if parts.hostname else ''}"


class JobStore:
    """The jobs of one service (``static`` or ``dynamic``) in one Redis server."""

    def __init__(self, connection: redis.Redis, service: str, settings, where: str = "redis"):
        self.redis = connection
        self.service = service
        self.settings = settings
        self.where = where
        self.queue = Queue(f"bioxen-{service}", connection=connection)
        self._transition = connection.register_script(_TRANSITION)

    @classmethod
    def connect(cls, settings, service: str) -> "JobStore":
        if not settings.redis_url:
            raise JobsUnavailable("jobs need a Redis server, and this service has none: set BIOXEN_REDIS_URL "
                                  "(redis://host:port/db) on the service and on its workers (bioxen worker "
                                  f"{service})")
        connection = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=30,
                                          health_check_interval=30)
        return cls(connection, service, settings, _redacted(settings.redis_url))

    @contextmanager
    def reachable(self) -> Iterator[None]:
        """Redis errors, where they enter, as the service's 503."""
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise JobsUnavailable(f"the job store ({self.where}) cannot be reached: {exc}") from exc

    @property
    def result_ttl(self) -> int:
        """Whole seconds a finished job is kept (Redis expires keys by the second)."""
        return max(1, math.ceil(self.settings.job_result_ttl_seconds))

    # -- keys ---------------------------------------------------------------------------------
    @staticmethod
    def key(job_id: str, part: str = "") -> str:
        return f"{PREFIX}job:{job_id}" + (f":{part}" if part else "")

    @property
    def listing(self) -> str:
        return f"{PREFIX}jobs:{self.service}"

    @staticmethod
    def chunk_id(job_id: str, index: int) -> str:
        return f"{job_id}_{index}"

    # -- submission ---------------------------------------------------------------------------
    def model_key(self, sha256: str) -> str:
        return f"{PREFIX}model:{sha256}"

    def create(self, kind: str, ref: ModelRef | None, args: tuple, context: dict, chunks: list[list] | None) -> Job:
        """Record a job and queue its chunks, in one transaction (``chunks``: each chunk's items, or
        None for a one-chunk job). An inline model goes into the store once, named by its sha256
        (``ref`` None: the job's arguments carry their models)."""
        job_id = new_job_id()
        now = time.time()
        total = 1 if chunks is None else len(chunks)
        keep = int(ACTIVE_TTL_SECONDS)
        ttl = self.result_ttl
        sha256 = getattr(ref, "cache_key", None)  # None for a shipped model's id, or no model
        with self.reachable(), self.redis.pipeline() as pipe:
            if sha256 is not None:  # the text once; chunks name it by its sha256
                if ref.kind != "sha256":
                    pipe.set(self.model_key(sha256), pickle.dumps(ref, protocol=pickle.HIGHEST_PROTOCOL), nx=True)
                pipe.expire(self.model_key(sha256), keep + ttl)
            pipe.hset(self.key(job_id), mapping={
                "service": self.service, "kind": kind, "status": "queued", "created": repr(now),
                "total": total})
            stored_ref = ref if sha256 is None else ModelRef("sha256", sha256)
            pipe.set(self.key(job_id, "spec"), pickle.dumps({"kind": kind, "ref": stored_ref, "args": args,
                                                             "context": context}, protocol=pickle.HIGHEST_PROTOCOL))
            if chunks is not None:
                pipe.hset(self.key(job_id, "items"), mapping={
                    i: pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL) for i, items in enumerate(chunks)})
            for part in ("", "spec", "items"):
                pipe.expire(self.key(job_id, part), keep)
            pipe.zadd(self.listing, {job_id: now})
            pipe.zadd(f"{self.listing}:queued", {job_id: now})
            self.queue.enqueue_many([Queue.prepare_data(
                RUN_CHUNK, args=(job_id, i), job_id=self.chunk_id(job_id, i), timeout=-1, result_ttl=0,
                # no RQ callbacks: RQ runs them under SIGALRM, which a worker thread cannot use
                ttl=keep, failure_ttl=ttl, retry=Retry(max=self.settings.job_chunk_attempts),
                description=f"{kind} job {job_id} chunk {i}")
                for i in range(total)], pipeline=pipe)
            pipe.execute()
        return Job(job_id, self.service, kind, "queued", 0, total, now)

    # -- reading ------------------------------------------------------------------------------
    def _record(self, job_id: str) -> dict[str, str] | None:
        raw = self.redis.hgetall(self.key(job_id))
        if not raw or raw.get(b"service", b"").decode() != self.service:
            return None
        return {k.decode(): v.decode() for k, v in raw.items()}

    def _job(self, job_id: str, record: dict[str, str], done: int | None = None) -> Job:
        total = int(record["total"])
        if done is None:
            done = total if record["status"] == "succeeded" else self.redis.hlen(self.key(job_id, "parts"))
        return Job(job_id, record["service"], record["kind"], record["status"], done, total,
                   float(record["created"]), float(record["started"]) if "started" in record else None,
                   float(record["finished"]) if "finished" in record else None,
                   json.loads(record["error"]) if "error" in record else None)

    def _unknown(self, job_id: str) -> UnknownJob:
        hours = self.settings.job_result_ttl_seconds / 3600
        return UnknownJob(f"no job {job_id!r} on the {self.service} service: never submitted, or it ended more "
                          f"than {hours:g} h ago and its results expired")

    def job(self, job_id: str) -> Job:
        with self.reachable():
            record = self._record(job_id)
            if record is None:
                raise self._unknown(job_id)
            return self._job(job_id, record)

    def result(self, job_id: str) -> Any:
        with self.reachable():
            job = self.job(job_id)
            if job.status != "succeeded":
                where = {"queued": "it is queued", "running": f"it is running ({job.done} of {job.total} chunks "
                         "done)", "failed": "it failed (its status says why)",
                         "cancelled": "it was cancelled"}[job.status]
                raise JobNotFinished(f"job {job_id!r} has no result: {where}")
            data = self.redis.get(self.key(job_id, "result"))
            if data is None:
                raise self._unknown(job_id)
            return pickle.loads(data)

    def jobs(self, limit: int = 50) -> list[Job]:
        """The most recent jobs, newest first (jobs whose records expired are dropped from the index)."""
        with self.reachable():
            found, gone = [], []
            for raw in self.redis.zrevrange(self.listing, 0, max(0, limit * 2 - 1)):
                job_id = raw.decode()
                record = self._record(job_id)
                if record is None:
                    gone.append(job_id)
                elif len(found) < limit:
                    found.append(self._job(job_id, record))
            if gone:
                self.redis.zrem(self.listing, *gone)
            return found

    def counts(self) -> dict[str, int]:
        """Jobs by state (ended ones while they are kept)."""
        cutoff = time.time() - self.settings.job_result_ttl_seconds
        with self.redis.pipeline() as pipe:
            for state in STATES:
                if state not in ACTIVE:
                    pipe.zremrangebyscore(f"{self.listing}:{state}", "-inf", cutoff)
            for state in STATES:
                pipe.zcard(f"{self.listing}:{state}")
            answers = pipe.execute()
        return dict(zip(STATES, answers[-len(STATES):]))

    def queue_length(self) -> int:
        return self.queue.count

    # -- changes ------------------------------------------------------------------------------
    def transition(self, job_id: str, state: str, leaving: tuple[str, ...] = ACTIVE, result: bytes = b"",
                   **fields) -> bool:
        """Move the job to ``state`` if it is in one of ``leaving``; True when it moved."""
        ended = state not in ACTIVE
        now = time.time()
        if ended:
            fields["finished"] = repr(now)
        pairs = [str(x) for item in fields.items() for x in item]
        keys = [self.key(job_id), self.key(job_id, "result")]
        if ended:  # what only chunks needed
            keys += [self.key(job_id, part) for part in ("spec", "items", "parts", "attempts", "errors")]
        answer = self._transition(keys=keys,
                                  args=[job_id, f"{self.listing}:", state, repr(now),
                                        self.result_ttl if ended else 0,
                                        ",".join(leaving), result, *pairs])
        return answer == b"ok"

    def cancel(self, job_id: str) -> Job:
        """Stop the job: its queued chunks are taken off the queue at once, a running chunk's engine is
        stopped by its worker within half a second. Cancelling an ended job changes nothing."""
        with self.reachable():
            if self._record(job_id) is None:
                raise self._unknown(job_id)
            if self.transition(job_id, "cancelled"):
                self.drop_chunks(job_id)
            return self.job(job_id)

    def drop_chunks(self, job_id: str) -> None:
        """Take the job's chunks that are still queued off the queue."""
        total = int(self.redis.hget(self.key(job_id), "total") or 0)
        chunks = [self.chunk_id(job_id, i) for i in range(total)]
        with self.redis.pipeline() as pipe:
            for chunk in chunks:
                self.queue.remove(chunk, pipeline=pipe)
            removed = pipe.execute()
        with self.redis.pipeline() as pipe:  # the queued ones' calls; running ones end in their worker
            for chunk, count in zip(chunks, removed):
                if count:
                    pipe.delete(RqJob.key_for(chunk))
            pipe.execute()

    def fail(self, job_id: str, error: ServiceError) -> bool:
        """End the job with ``error`` (its envelope is what the status shows); drop its queued chunks."""
        if not self.transition(job_id, "failed", error=json.dumps(error_envelope(error))):
            return False
        self.drop_chunks(job_id)
        return True

    # -- the worker's side --------------------------------------------------------------------
    def status(self, job_id: str) -> str | None:
        raw = self.redis.hget(self.key(job_id), "status")
        return None if raw is None else raw.decode()

    def start_attempt(self, job_id: str, index: int) -> int:
        """Count a run of chunk ``index`` and mark its job running; the runs started so far."""
        with self.redis.pipeline() as pipe:
            pipe.hincrby(self.key(job_id, "attempts"), index, 1)
            pipe.expire(self.key(job_id, "attempts"), ACTIVE_TTL_SECONDS)
            attempts = pipe.execute()[0]
        self.transition(job_id, "running", leaving=("queued",), started=repr(time.time()))
        return attempts

    def note_error(self, job_id: str, index: int, message: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.hset(self.key(job_id, "errors"), index, message)
            pipe.expire(self.key(job_id, "errors"), ACTIVE_TTL_SECONDS)
            pipe.execute()

    def last_error(self, job_id: str, index: int) -> str | None:
        raw = self.redis.hget(self.key(job_id, "errors"), index)
        return None if raw is None else raw.decode()

    def spec(self, job_id: str) -> dict | None:
        data = self.redis.get(self.key(job_id, "spec"))
        return None if data is None else pickle.loads(data)

    def items(self, job_id: str, index: int) -> list | None:
        data = self.redis.hget(self.key(job_id, "items"), index)
        return None if data is None else pickle.loads(data)

    def model(self, sha256: str) -> ModelRef | None:
        """The inline model stored under ``sha256`` (its text), if any."""
        data = self.redis.get(self.model_key(sha256))
        return None if data is None else pickle.loads(data)

    def has_model(self, sha256: str) -> bool:
        with self.reachable():
            return bool(self.redis.exists(self.model_key(sha256)))

    def save_part(self, job_id: str, index: int, part: Any) -> bool:
        """Keep chunk ``index``'s answer (a chunk run twice keeps its first); True when every chunk's
        answer is in, whoever saved them."""
        with self.redis.pipeline() as pipe:
            pipe.hsetnx(self.key(job_id, "parts"), index, pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
            pipe.expire(self.key(job_id, "parts"), ACTIVE_TTL_SECONDS)
            pipe.hlen(self.key(job_id, "parts"))
            pipe.hget(self.key(job_id), "total")
            _, _, done, total = pipe.execute()
        return total is not None and done >= int(total)

    def parts(self, job_id: str) -> list:
        raw = self.redis.hgetall(self.key(job_id, "parts"))
        return [pickle.loads(raw[k]) for k in sorted(raw, key=int)]

    def succeed(self, job_id: str, answer: Any) -> bool:
        return self.transition(job_id, "succeeded", leaving=("running",),
                               result=pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
