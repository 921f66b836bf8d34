"""Test support: real services started as real processes (``bioxen serve``: a waitress front and its engine processes) on loopback.

Nothing here is mocked: each :class:`ServiceProcess` is the production command on a free port of a
127.0.0.x address, waited on through its own ``/readyz``, and stopped (SIGTERM, then SIGKILL) after.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BYTECODE = ROOT / "bytecode"
MODELS = {
    "e_coli_core": BYTECODE / "metabolic" / "e_coli_core.xml",
    "iMM904": BYTECODE / "metabolic" / "iMM904.xml",
    "iMB155": BYTECODE / "metabolic" / "iMB155.xml",
}
BIN = Path(sys.executable).parent


def metric_value(text: str, name: str, **labels) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` in a Prometheus exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def engine_pids(front_pid: int) -> set[int]:
    """The engine processes of a replica and their template (the front's descendants): the same set
    before and after some requests means no engine process was replaced meanwhile."""
    import psutil

    return {child.pid for child in psutil.Process(front_pid).children(recursive=True)}


def wait_for(predicate, timeout: float, what: str, poll: float = 0.5):
    """``predicate()``'s first true value within ``timeout`` seconds, else an AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """``bioxen serve <service>`` as a subprocess. ``url`` is its base URL once started."""

    def __init__(self, service: str, host: str = "127.0.0.1", port: int | None = None, workers: int = 1,
                 env: dict[str, str] | None = None, preload: str | None = None):
        self.service = service
        self.host = host
        self.port = port or free_port(host)
        self.workers = workers
        self.env = dict(env or {})
        if preload is not None:
            self.env["BIOXEN_PRELOAD"] = preload
        self.proc: subprocess.Popen | None = None
        self.metrics_dir = tempfile.mkdtemp(prefix=f"bioxen-test-{service}-")
        self.log_path = Path(self.metrics_dir + ".log")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, wait: float = 120.0) -> "ServiceProcess":
        env = {**os.environ, **self.env}
        cmd = [str(BIN / "bioxen"), "--log-level", "warning", "serve", self.service, "--host", self.host,
               "--port", str(self.port), "--workers", str(self.workers), "--metrics-dir", self.metrics_dir]
        if getattr(self, "_log", None) is not None:
            self._log.close()  # a restart of the same replica: the earlier run's log handle
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.wait_ready(wait)
        return self

    def wait_ready(self, wait: float = 120.0) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.service} service exited with {self.proc.returncode}: {self.log()}")
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.service} service not ready after {wait} s: {self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-3000:]
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def running(service: str, **kwargs):
    proc = ServiceProcess(service, **kwargs)
    try:
        yield proc.start()
    finally:
        proc.stop()


def reference_roadrunner(program: str):
    """A fresh RoadRunner for a shipped program, built the way a user would in their own process."""
    import roadrunner

    if program == "gene_expression":
        import tellurium as te

        return te.loada((BYTECODE / "kinetic" / "gene_expression.ant").read_text())
    files = {"repressilator": "BIOMD0000000012.xml", "teusink_glycolysis": "BIOMD0000000064.xml",
             "chassagnole_central_carbon": "BIOMD0000000051.xml", "kholodenko_mapk": "BIOMD0000000010.xml"}
    return roadrunner.RoadRunner(str(BYTECODE / "kinetic" / files[program]))


def glucose_growth(lower_bounds) -> dict[float, float]:
    """In-process e_coli_core growth for each glucose uptake bound (``EX_glc__D_e`` lower bound):
    the reference the load, fault and concurrency tests check every service answer against."""
    import cobra

    model = cobra.io.read_sbml_model(str(MODELS["e_coli_core"]))
    model.solver = "glpk"
    growth = {}
    for lb in lower_bounds:
        with model:
            model.reactions.EX_glc__D_e.lower_bound = lb
            growth[lb] = model.slim_optimize()
    return growth
