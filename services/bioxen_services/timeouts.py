"""Per-request time budgets.

gunicorn runs each request on its worker's main thread, so a ``SIGALRM`` timer can interrupt a
computation that has run past its budget: the engines' Python loops (FVA, knockouts, scans, dFBA)
return to the interpreter between solves, where the alarm raises :class:`ComputationTimeout` and
the ``with model:`` blocks unwind. A single long C call is interrupted when it returns; gunicorn's
own worker timeout (set above the budget by ``bioxen serve``) is the last resort.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from .errors import ComputationTimeout


@contextmanager
def time_budget(seconds: float, what: str):
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread; the worker timeout still applies
        return

    def on_alarm(signum, frame):
        raise ComputationTimeout(
            f"{what} did not finish within the service's time budget of {seconds:g} s; "
            "split the work into smaller requests (the client chunks large batches)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
