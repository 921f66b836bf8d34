"""Job test support: a real redis-server and real worker processes (``bioxen worker``), started here
and stopped by their own pids; the service side is an in-process app with its real engines."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
import requests

from support import BIN, free_port, wait_for

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
#: what the job tests change: claims renewed every second, so a lost worker is noticed in ~3 s
WORKER_ENV = {"BIOXEN_JOB_HEARTBEAT_SECONDS": "1", "BIOXEN_ENGINES": "1", "BIOXEN_LOG_LEVEL": "warning"}


class RedisServer:
    """``redis-server`` on a free loopback port, in a temporary directory, without persistence."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bioxen-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        if not Path(REDIS_SERVER).exists():
            pytest.skip("redis-server is not installed: run `make tools` (Debian package redis-server)")
        self.log = open(self.dir / "redis.log", "wb")
        self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.dir), "--save", "", "--appendonly", "no"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        client = self.client()
        wait_for(lambda: self._pings(client), 20, "redis-server answers PING", poll=0.05)
        return self

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    @staticmethod
    def _pings(client) -> bool:
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class WorkerProcess:
    """``bioxen worker <service>`` as its own process group (the worker, its template and engines)."""

    def __init__(self, service: str, redis_url: str, env: dict[str, str] | None = None, preload: str | None = None):
        self.service = service
        self.env = {**os.environ, **WORKER_ENV, "BIOXEN_REDIS_URL": redis_url, **(env or {})}
        if preload is not None:
            self.env["BIOXEN_PRELOAD"] = preload
        self.metrics_port = free_port()
        self.metrics_dir = tempfile.mkdtemp(prefix=f"bioxen-worker-{service}-")
        self.proc: subprocess.Popen | None = None
        self.redis_url = redis_url

    def start(self, wait: float = 120) -> "WorkerProcess":
        self._log = open(self.metrics_dir + ".log", "ab")
        self.proc = subprocess.Popen(
            [str(BIN / "bioxen"), "--log-level", "warning", "worker", self.service, "--metrics-host", "127.0.0.1",
             "--metrics-port", str(self.metrics_port), "--metrics-dir", self.metrics_dir],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        from rq import Queue, Worker

        queue = Queue(f"bioxen-{self.service}", connection=redis.Redis.from_url(self.redis_url))
        wait_for(lambda: self._alive() and any(w.pid == self.proc.pid for w in Worker.all(queue=queue)),
                 wait, f"{self.service} worker {self.proc.pid} takes chunks", poll=0.2)
        return self

    def _alive(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}: {self.log()}")
        return True

    def log(self) -> str:
        try:
            return Path(self.metrics_dir + ".log").read_text()[-3000:]
        except OSError:
            return ""

    def metrics(self) -> str:
        return requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text

    def engines(self) -> list:
        """The worker's engine processes (children of its template)."""
        import psutil

        found = []
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if child.ppid() != self.proc.pid:  # the template is the worker's child; engines its children
                    found.append(child)
            except psutil.NoSuchProcess:
                pass
        return found

    def kill(self) -> None:
        """SIGKILL the whole worker: its process, its template and its engines."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        try:  # the template and engines notice their front is gone; make sure
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not self._log.closed:
            self._log.close()

    def __enter__(self) -> "WorkerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def service_app(service: str, redis_url: str, **settings):
    """The service side in-process: the real app with its engines and its job layer."""
    from bioxen_services.app import create_app
    from bioxen_services.server import THREAD_ENV
    from bioxen_services.settings import Settings

    for name, value in THREAD_ENV.items():  # as `bioxen serve` sets them: one BLAS thread per engine
        os.environ.setdefault(name, value)
    env = {"BIOXEN_REDIS_URL": redis_url, "BIOXEN_ENGINES": "1",
           **{f"BIOXEN_{k.upper()}": str(v) for k, v in settings.items()}}
    app = create_app(service, Settings.from_env(env), start_engines=True)
    return app, app.extensions["bioxen_jobs"]  # create_app set up the job layer


def sync(jobs, kind: str, fn, ref, *args):
    """The synchronous answer, computed the way the service's endpoint computes it."""
    return jobs.ctx.runtime.run(kind, fn, ref, args, deadline=time.monotonic() + 300)


def finished(jobs, job_id: str, timeout: float = 120):
    return wait_for(lambda: (lambda job: job if job.status not in ("queued", "running") else None)(
        jobs.status(job_id)), timeout, f"job {job_id} ends", poll=0.1)
