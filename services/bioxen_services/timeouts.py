"""Per-request time budgets.

gunicorn runs each request on its worker's main thread, so a ``SIGALRM`` timer can interrupt a
computation that has run past its budget: the engines' Python loops (FVA, knockouts, scans, dFBA)
return to the interpreter between solves, where the alarm raises :class:`ComputationTimeout` and
the ``with model:`` blocks unwind.

A single long call inside a C library (one huge CVODE simulation) never returns to the interpreter
before it ends, so no signal handler can stop it. :func:`run_isolated` runs such a call in a forked
copy of the worker: the worker waits for the answer until the budget ends, then kills the copy and
answers 504, and stays in service. Forking costs a few milliseconds, so engines isolate only calls
they predict to be long. gunicorn's own worker timeout (set above the budget by ``bioxen serve``)
remains the last resort for a call predicted short that runs away.
"""

from __future__ import annotations

import math
import os
import pickle
import select
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable

from .errors import ComputationFailed, ComputationTimeout

_deadline: float | None = None  # monotonic end of the budget of the request in progress


def remaining() -> float:
    """Seconds left in the current request's budget (infinite outside one)."""
    return math.inf if _deadline is None else max(0.0, _deadline - time.monotonic())


@contextmanager
def time_budget(seconds: float, what: str):
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread; the worker timeout still applies
        return

    def on_alarm(signum, frame):
        raise ComputationTimeout(
            f"{what} did not finish within the service's time budget of {seconds:g} s; "
            "split the work into smaller requests (the client chunks large batches)")

    global _deadline
    previous = signal.signal(signal.SIGALRM, on_alarm)
    _deadline = time.monotonic() + seconds
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _deadline = None


def reraise_budget(exc: BaseException) -> None:
    """Raise the :class:`ComputationTimeout` that a third-party library wrapped into its own error
    (cobra's SBML reader turns any exception into ``CobraSBMLError``); do nothing otherwise."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ComputationTimeout):
            raise exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__


def run_isolated(fn: Callable[[], Any], what: str) -> Any:
    """``fn()`` in a forked copy of this process, bounded by the remaining budget.

    The copy shares the compiled model (copy-on-write) and sends back the pickled result; an
    exception in it comes back as :class:`ComputationFailed`. Past the budget the copy is killed and
    :class:`ComputationTimeout` raised (by the alarm of :func:`time_budget`, or here when there is
    none). The copy also ends itself by ``SIGALRM`` (default action) shortly after the budget, so it
    cannot outlive a worker that was killed meanwhile."""
    budget = remaining()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the copy: compute, send, exit without running any of the worker's handlers
        os.close(read_fd)
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            if math.isfinite(budget):
                signal.alarm(int(budget) + 2)
            try:
                payload = pickle.dumps(("ok", fn()), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:  # reported to the worker, which maps it
                payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_fd, view):]
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks: list[bytes] = []
    try:
        while True:
            wait = remaining()
            ready, _, _ = select.select([read_fd], [], [], None if math.isinf(wait) else wait)
            if not ready:
                raise ComputationTimeout(f"{what} did not finish within the service's time budget")
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        try:
            os.kill(pid, signal.SIGKILL)  # a no-op for a copy that already exited
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    if not chunks:
        raise ComputationFailed(f"{what} ended without an answer")
    status, value = pickle.loads(b"".join(chunks))
    if status == "error":
        raise ComputationFailed(f"{what} failed: {value[:300]}")
    return value
