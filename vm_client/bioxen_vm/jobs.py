"""Jobs: long computations the services run on their queue (``POST /v1/jobs``), watched and fetched later.

``client.submit(kind, request)`` sends the body the synchronous endpoint of ``kind`` takes and returns a
:class:`Job` at once; ``job.wait()`` polls its status (a progress bar when stderr is a terminal, or a
``progress(done, total)`` callback), ``job.result()`` is the answer the synchronous endpoint gives, and
``job.cancel()`` stops it. A job's state is in the services' Redis, so any replica answers for any job:
every call goes through the client's ordinary failover, and ``client.job(id, service)`` reattaches to a
job submitted elsewhere (another process, the CLI).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Callable

from .errors import BioXenError, ComputationLost
from .results import typed

if TYPE_CHECKING:  # pragma: no cover
    from .client import BiologicalComputationClient

#: the job kinds of each service (``kind`` names the synchronous endpoint whose body ``request`` is)
KINDS = {"static": ("fba", "fva", "knockouts", "dfba"),
         "dynamic": ("simulate", "ensemble", "scan", "steady-state")}
ENDED = ("succeeded", "failed", "cancelled")
SERVICES = tuple(KINDS)


class JobTimeout(BioXenError, TimeoutError):
    """:meth:`Job.wait` gave up; the job goes on (wait again, or cancel it)."""

    def __init__(self, job: "Job", timeout: float, status: dict):
        progress = status.get("progress") or {}
        super().__init__(f"job {job.id} ({job.service} {status.get('kind', '?')}) still {status.get('status')} "
                         f"after {timeout:g} s ({progress.get('done', '?')} of {progress.get('total', '?')} chunks "
                         "done); it goes on: wait again, fetch its result later or cancel it")
        self.job = job
        self.status = status


def service_of(kind: str, service: str | None = None) -> str:
    """The service that runs ``kind`` (``service`` given: checked against it; ``omex`` runs on both, so
    it needs one)."""
    if service is not None:
        if service not in KINDS:
            raise ValueError(f"service must be one of {', '.join(SERVICES)}, got {service!r}")
        return service
    for name, kinds in KINDS.items():
        if kind in kinds:
            return name
    if kind == "omex":
        raise ValueError("an omex job runs on the service whose tasks the archive holds: give service= "
                         "(client.submit_omex chooses it from the archive)")
    known = ", ".join(f"{k} ({name})" for name, kinds in KINDS.items() for k in kinds)
    raise ValueError(f"unknown job kind {kind!r}; the kinds are {known}")


class Job:
    """A job on ``service``. ``info`` is the last status the service gave (a dict, as ``GET /v1/jobs/<id>``)."""

    def __init__(self, client: "BiologicalComputationClient", service: str, job_id: str, info: dict | None = None):
        self.client = client
        self.service = service_of("", service)
        self.id = job_id
        self.info = info or {"id": job_id, "service": service}

    def __repr__(self) -> str:
        progress = self.info.get("progress") or {}
        state = self.info.get("status", "?")
        return (f"<Job {self.id} {self.service} {self.info.get('kind', '?')} {state} "
                f"{progress.get('done', '?')}/{progress.get('total', '?')}>")

    @property
    def path(self) -> str:
        return f"/v1/jobs/{self.id}"

    @property
    def kind(self) -> str | None:
        return self.info.get("kind")

    def status(self) -> dict:
        """The job as the service has it now: ``status`` (queued, running, succeeded, failed, cancelled),
        ``progress`` {done, total} (chunks), times, and ``error`` for a failed job."""
        self.info = self.client.request(self.service, "GET", self.path)
        return self.info

    def done(self) -> bool:
        """Whether the job has ended (asks the service)."""
        return self.status()["status"] in ENDED

    def wait(self, timeout: float | None = None, poll: float = 0.5,
             progress: Callable[[int, int], None] | bool | None = None) -> dict:
        """Poll until the job ends; its last status (whatever the end: check ``["status"]``, or call
        :meth:`result`, which raises a failed job's error). ``progress``: a ``progress(done, total)``
        callback called whenever the count changes; None: a tqdm bar when interactive (see
        :func:`reporter`); False: nothing. Raises :class:`JobTimeout` after ``timeout`` seconds (the job goes on).
        A status request lost on the way is asked again (it changes nothing)."""
        if poll <= 0:
            raise ValueError(f"poll must be positive, got {poll}")
        deadline = None if timeout is None else time.monotonic() + timeout
        report, close = reporter(progress, f"{self.service} {self.kind or 'job'}", "chunk")
        last = None
        try:
            while True:
                try:
                    info = self.status()
                except ComputationLost:  # a GET is safe to ask again
                    info = self.info
                counts = info.get("progress") or {}
                now = (counts.get("done"), counts.get("total"))
                if report and now != last and None not in now:
                    report(*now)
                    last = now
                if info.get("status") in ENDED:
                    return info
                if deadline is not None and time.monotonic() >= deadline:
                    raise JobTimeout(self, timeout, info)
                pause = poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic()))
                time.sleep(pause)
        finally:
            close()

    def result(self) -> dict:
        """The answer the synchronous endpoint gives, as the typed result of the job's kind
        (:mod:`bioxen_vm.results`). A job not ended raises :class:`~bioxen_vm.errors.ClientRequestError`
        ``job_not_finished`` (409); a failed job its error."""
        answer = self.client.request(self.service, "GET", self.path + "/result")
        if self.kind is None:  # reattached without a status yet
            self.status()
        return typed(self.kind, answer)

    def cancel(self) -> dict:
        """Cancel the job (its queued chunks are dropped at once); its status. An ended job stays as it is."""
        self.info = self.client.request(self.service, "DELETE", self.path)
        return self.info


def reporter(progress, label: str, unit: str) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """``(report(done, total), close())`` for a ``progress`` argument of the client: a callable is
    called as is; False gives nothing; None a tqdm bar on stderr when interactive (stderr a terminal,
    not in a Kubernetes pod), else nothing."""
    if callable(progress):
        return progress, lambda: None
    if progress is False or not interactive():
        return None, lambda: None
    return progress_bar(label, unit)


def progress_bar(label: str, unit: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar on stderr: ``(update(done, total), close())``."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=label, unit=unit, file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


def interactive() -> bool:
    """stderr is a terminal (someone watches a progress bar there) and this is not a pod (whose log
    would fill with bars)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


__all__ = ["ENDED", "KINDS", "Job", "JobTimeout", "progress_bar", "reporter", "service_of"]
