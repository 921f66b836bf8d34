"""Long computations as jobs: submitted to a service, split into chunks, run by workers on every replica,
merged into exactly the answer the synchronous endpoint gives.

::

    route ── JobService.submit(kind, ref, *args) ── plan in one of the replica's engines (4xx here)
                 │ record + chunks, one Redis transaction
                 v
    Redis: job records (store.py) + RQ queue "bioxen-<service>"
                 │
                 v
    bioxen worker <service>: RQ loops ── chunk in a supervised engine ── part ── last part: merge

Modules: :mod:`.kinds` (what a kind is; the kinds live beside their engines in ``static/job_kinds.py``
and ``dynamic/job_kinds.py``), :mod:`.store` (records in Redis), :mod:`.service` (what routes call),
:mod:`.worker` (the worker process), :mod:`.collector` (queue and state gauges). A route calls
``bioxen_services.jobs.service.current()`` (after ``init_app(app)``); engines import only the kinds.

Why RQ (2.x), over Celery, Dramatiq or arq
------------------------------------------
Redis is the only broker and store we want to run, and RQ is built on it alone: its queue is a Redis
list, its registries sorted sets, a call is one hash; jobs can be queued in the same transaction as
our own records (``enqueue_many(pipeline=...)``), so a submission is all or nothing. Its
``SimpleWorker`` runs a task in the calling thread, which is what we need: the computation itself
runs in an engine of the same :class:`~..supervisor.Supervisor` the service uses (a forked engine
from a fresh template interpreter), never in a process forked per task from a worker that runs
threads (RQ's and Celery's prefork defaults). Celery's Redis transport redelivers an unacknowledged
task only after its visibility timeout (an hour by default) and keeps no delivery count; Dramatiq's
Redis broker requeues a dead worker's messages but does not count redeliveries either, so a task
that kills its worker would be retried forever; arq counts tries but is asyncio-only and in
maintenance mode. RQ 2 requeues an abandoned task with the same bounded ``Retry`` budget as a
failed one. How each case the issue names is handled:

- A worker SIGKILLed mid-chunk: the chunk's claim in RQ's started registry is renewed every
  ``job_heartbeat_seconds`` while it runs; once it lapses (three periods), the next worker's
  maintenance pass (every period) finds the chunk abandoned and queues it again (``Retry``). A
  chunk's answer is saved once (``HSETNX``), so a chunk run twice counts once, and the worker that
  saves the last answer merges; every answer depends on the chunk's items alone (for static
  models: :mod:`..static.lp_start`), so the result equals an undisturbed run's.
- A poison chunk: every run of a chunk is counted before it starts. An engine that dies under a
  chunk is replaced by the supervisor (the worker lives on) and the chunk is queued again; a chunk
  that has ended without an answer ``job_chunk_attempts`` times, whether its engine or its whole
  worker died, fails its job with ``chunk_failed`` naming the chunk, the attempts and the last cause,
  and the job's other queued chunks are dropped.
- Errors that are answers (4xx, a chunk past ``job_chunk_timeout_seconds``) fail the job at once
  with the synchronous request's error envelope: running them again would give the same answer.
- Cancellation: the job turns ``cancelled`` in one atomic step and its queued chunks are taken off
  the queue; a running chunk's worker looks at its job every 0.5 s and kills that engine. A chunk
  that a worker took just before is skipped when it starts.
- Results expire: when a job ends, its record and result get a TTL of ``job_result_ttl_seconds``
  and everything only chunks needed is deleted; after that the job is unknown (404). A job never
  taken by any worker is dropped after a week.
- The API process restarting loses nothing: a job is its records in Redis, written with its chunks
  in one transaction; any replica answers for any job.
"""

