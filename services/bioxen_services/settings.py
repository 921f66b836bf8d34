"""Service settings, read and checked once at start-up from ``BIOXEN_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from bioxen_common.manifest import SHIPPED_DIR
from bioxen_common.token import resolve_token

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Limits and switches of one service process. Every field has an env var ``BIOXEN_<NAME>``."""

    #: the shipped models and their manifest (default: those packaged with bioxen-common)
    bytecode_dir: Path = SHIPPED_DIR
    #: largest request body accepted, compressed or after gunzip (genome-scale SBML is 10-20 MB)
    max_body_bytes: int = 64 * _MIB
    #: deepest JSON nesting accepted
    max_json_depth: int = 32
    #: most output points of one simulation
    max_time_points: int = 100_000
    #: most grid points of one parameter scan
    max_scan_points: int = 10_000
    #: most deletions in one knockout batch
    max_knockouts: int = 10_000
    #: most steps of one dFBA run
    max_dfba_points: int = 10_001
    #: wall-clock deadline of one request, from its arrival to its answer (waiting for an engine,
    #: compiling the model, computing); past it the engine process is killed and the service answers 504
    request_timeout_seconds: float = 60.0
    #: engine processes per replica (0: the CPUs available to the container)
    engines: int = 0
    #: requests that may wait for a busy engine at once, per engine; past it the service answers 503
    queue_per_engine: int = 8
    #: memory one engine process may add above what it shared with its template at birth: past it
    #: during a computation the process is killed (422); above half of it after a request it is recycled
    engine_memory_bytes: int = 1024 * _MIB
    #: seconds a client may take to send a whole request (headers and body) once it started one
    read_timeout_seconds: float = 30.0
    #: seconds an idle keep-alive connection (or one whose answer is not being read) is kept
    idle_timeout_seconds: float = 30.0
    #: most JSON objects and arrays in one request body (counted before parsing: each costs memory)
    max_json_containers: int = 1_000_000
    #: most numbers in one answer (time points x selections, grid points x selections ...)
    max_result_values: int = 5_000_000
    #: after SIGTERM, seconds a replica keeps serving with readiness false before it stops accepting
    #: (time for Kubernetes to take it out of its Services); then requests in flight finish
    drain_seconds: float = 0.0
    #: inline models kept compiled per engine process (least recently used evicted)
    model_cache_size: int = 16
    #: memory bound of one engine's inline-model cache (each model counted by the memory its compile added)
    model_cache_bytes: int = 512 * _MIB
    #: shipped models loaded at start-up ("all", "none" or a comma-separated list of ids)
    preload: str = "all"
    #: when set, compute endpoints need "Authorization: Bearer <token>"; health and metrics stay open
    api_token: str = ""
    #: a file holding the token (a mounted Kubernetes Secret); read once at start-up, wins over api_token.
    #: A file that cannot be read or holds only white space stops the start-up (bioxen_common.token)
    api_token_file: str = ""
    #: the Redis server that queues and keeps jobs (redis://host:port/db, rediss:// for TLS); empty: no
    #: jobs, the job endpoints answer 503 saying so. Services and workers of one engine share it
    redis_url: str = ""
    #: seconds a finished job (status, result or error) is kept after it finished; then it is gone (404)
    job_result_ttl_seconds: float = 86_400.0
    #: runs of one chunk that may end with its engine or its worker dying before the job fails
    job_chunk_attempts: int = 3
    #: wall-clock budget of one chunk in a worker; past it the engine is killed and the job fails
    job_chunk_timeout_seconds: float = 600.0
    #: run time a chunk is sized for, from each job kind's estimate of one item (reaction, deletion ...)
    job_chunk_seconds: float = 5.0
    #: how often a busy worker renews its claim on its chunk; a worker silent for three times as long
    #: is taken for dead and its chunk runs again on another worker
    job_heartbeat_seconds: float = 10.0
    #: most items (reactions, deletions, grid points, repetitions) of one job
    max_job_items: int = 1_000_000
    #: most entries of one COMBINE archive (POST /v1/omex); the archive itself is bounded by max_body_bytes
    omex_max_entries: int = 1_000
    #: most bytes of one archive's entries once unpacked, all together
    omex_max_unpacked_bytes: int = 256 * _MIB
    #: highest unpacked / packed size ratio of one archive entry (SBML and SED-ML pack 5-20x; zip bombs 1000x)
    omex_max_ratio: int = 200

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(f"BIOXEN_{f.name.upper()}")
            if raw is None:
                continue
            kind = {"int": int, "float": float, "Path": Path, "str": str}[
                f.type if isinstance(f.type, str) else f.type.__name__]
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise ValueError(f"BIOXEN_{f.name.upper()}={raw!r} is not a valid {kind.__name__}") from None
        values.update(overrides)
        values["api_token"] = resolve_token(values.get("api_token"), values.get("api_token_file")) or ""
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        for name in ("max_body_bytes", "max_json_depth", "max_time_points", "max_scan_points",
                     "max_knockouts", "max_dfba_points", "model_cache_size", "model_cache_bytes",
                     "queue_per_engine", "engine_memory_bytes", "max_json_containers", "max_result_values",
                     "job_chunk_attempts", "max_job_items", "omex_max_entries", "omex_max_unpacked_bytes",
                     "omex_max_ratio"):
            if getattr(self, name) < 1:
                raise ValueError(f"setting {name} must be at least 1, got {getattr(self, name)}")
        if not self.drain_seconds >= 0:
            raise ValueError("setting drain_seconds must not be negative")
        for name in ("request_timeout_seconds", "read_timeout_seconds", "idle_timeout_seconds",
                     "job_result_ttl_seconds", "job_chunk_timeout_seconds", "job_chunk_seconds",
                     "job_heartbeat_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"setting {name} must be positive")
        if self.redis_url and self.redis_url.split("://", 1)[0] not in ("redis", "rediss", "unix"):
            raise ValueError("setting redis_url must be redis://host:port/db (or rediss://, unix://)")
        if self.engines < 0:
            raise ValueError("setting engines must not be negative (0: one per CPU)")
        if not (Path(self.bytecode_dir) / "manifest.json").is_file():
            raise ValueError(f"no bytecode manifest in {self.bytecode_dir} (set BIOXEN_BYTECODE_DIR)")

    def preload_ids(self, available: list[str]) -> list[str]:
        if self.preload == "all":
            return list(available)
        if self.preload in ("", "none"):
            return []
        wanted = [p.strip() for p in self.preload.split(",") if p.strip()]
        unknown = [w for w in wanted if w not in available]
        if unknown:
            raise ValueError(f"BIOXEN_PRELOAD names unknown models {unknown}; known: {available}")
        return wanted
