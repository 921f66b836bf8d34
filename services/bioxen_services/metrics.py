"""Prometheus metrics of the services. Names start with ``bioxen_``, use base units, and keep label
values bounded (endpoint templates, computation kinds, solver statuses).

``bioxen serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the front, the template or any engine imports this
module, so each of these processes writes its samples there and ``/metrics`` aggregates all of them.
"""

from __future__ import annotations

import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)
from prometheus_client import REGISTRY

#: latency buckets reach past 10 s: genome-scale FVA and long scans are legitimate work
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                   20.0, 30.0, 60.0, 120.0, 300.0)

HTTP_REQUESTS = Counter("bioxen_http_requests_total", "HTTP requests answered",
                        ["service", "method", "endpoint", "status"])
HTTP_LATENCY = Histogram("bioxen_http_request_duration_seconds", "HTTP request latency",
                         ["service", "method", "endpoint"], buckets=LATENCY_BUCKETS)
IN_FLIGHT = Gauge("bioxen_http_requests_in_flight", "Requests being processed",
                  ["service"], multiprocess_mode="livesum")
COMPUTATIONS = Counter("bioxen_computations_total", "Computations run, by kind and solver status",
                       ["service", "kind", "status"])
COMPUTATION_SECONDS = Histogram("bioxen_computation_duration_seconds",
                                "Engine time of one computation (solver or simulation)",
                                ["service", "kind"], buckets=LATENCY_BUCKETS)
CACHE_HITS = Counter("bioxen_model_cache_hits_total", "Model lookups answered from the compiled cache",
                     ["service", "source"])
CACHE_MISSES = Counter("bioxen_model_cache_misses_total", "Model lookups that had to parse or compile",
                       ["service", "source"])
CACHE_EVICTIONS = Counter("bioxen_model_cache_evictions_total", "Inline models evicted from the cache",
                          ["service"])
CACHE_BYTES = Gauge("bioxen_model_cache_bytes", "Memory counted by the inline-model caches of the engines "
                    "(each model: what its compile added to the engine's resident memory)",
                    ["service"], multiprocess_mode="livesum")
MODELS_LOADED = Gauge("bioxen_models_loaded", "Models compiled and held by an engine process",
                      ["service"], multiprocess_mode="livemax")
READY = Gauge("bioxen_ready",
              "1 when the replica's engines serve with its shipped models loaded (0 while draining)",
              ["service"], multiprocess_mode="livemin")
ENGINES = Gauge("bioxen_engines", "Engine processes alive in a replica", ["service"],
                multiprocess_mode="livemax")
ENGINE_RESTARTS = Counter("bioxen_engine_restarts_total",
                          "Engine processes discarded and replaced, by reason (deadline, client_gone, memory, "
                          "memory_recycled, crashed, error)", ["service", "reason"])
ENGINE_SPAWN_SECONDS = Histogram("bioxen_engine_spawn_duration_seconds",
                                 "Time to fork a new engine process from the warm template until it serves",
                                 ["service"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                       0.5, 1.0, 2.5, 5.0))
MODEL_LOAD_SECONDS = Histogram("bioxen_model_load_duration_seconds", "Time to parse and compile a model",
                               ["service", "source"], buckets=LATENCY_BUCKETS)
JOBS_SUBMITTED = Counter("bioxen_jobs_submitted_total", "Jobs accepted by a service", ["service", "kind"])
JOB_CHUNK_SECONDS = Histogram("bioxen_job_chunk_duration_seconds",
                              "Wall-clock time of one job chunk in a worker's engine", ["service", "kind"],
                              buckets=LATENCY_BUCKETS)
JOB_CHUNKS = Counter("bioxen_job_chunks_total", "Job chunks ended in workers, by outcome (done, failed: the "
                     "job failed with it, retry: it runs again, skipped: its job had already ended)",
                     ["service", "kind", "outcome"])
JOB_CHUNK_RETRIES = Counter("bioxen_job_chunk_retries_total",
                            "Job chunks started again, by why the attempt before ended (engine_failed: its engine "
                            "died; worker_lost: its worker stopped renewing its claim)", ["service", "reason"])

#: collectors that read live state at each scrape (the job queue's length in Redis); registered by the
#: processes that have that state (:func:`add_live_collector`)
_LIVE: list = []


def add_live_collector(collector) -> None:
    if collector not in _LIVE:
        _LIVE.append(collector)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            REGISTRY.register(collector)


def registry() -> CollectorRegistry:
    """The registry to expose: aggregated over processes when running multi-process, with the live
    collectors."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    for collector in _LIVE:
        merged.register(collector)
    return merged


def render() -> tuple[bytes, str]:
    """The exposition text: aggregated over workers when running multi-process."""
    return generate_latest(registry()), CONTENT_TYPE_LATEST
