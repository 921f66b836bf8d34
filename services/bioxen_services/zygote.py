"""The engine template ("zygote") and the engine processes it forks.

The front (:mod:`.supervisor`) starts one template per replica as a fresh interpreter::

    python -m bioxen_services.zygote <service> <control-fd>

The template imports the engines, compiles the shipped models once, says it is ready, and then only
ever forks: for each ``spawn`` message it receives a socket (``SCM_RIGHTS``) and forks a child that
serves computations on that socket. The template runs no threads (checked before every fork), so a
fork copies a consistent process, and a new engine is ready in milliseconds with every shipped model
already compiled (copy-on-write).

An engine process runs one computation at a time, as told by the front::

    front -> engine   pickle((fn, model_ref | None, args))
    engine -> front   pickle((("ok", result) | ("error", (status, code, message, details))
                              | ("fatal", message), stats))

``fn`` is a module-level function: with a model reference it is called as ``fn(compiled.engine, *args)``
and the result gets ``"model": {"id", "sha256"}``; without one as ``fn(store, *args)``. A
:class:`~.errors.ServiceError` is an answer (4xx/422); anything else is a defect of this process's
state: it reports ``fatal`` and exits, and the front replaces it. Deadlines are not kept here at all:
the front kills the process when one passes, whatever it is doing (Python or C).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import struct
import sys
import time
from multiprocessing.connection import Connection

from .errors import ServiceError

log = logging.getLogger(__name__)

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def build_store(service: str, settings, manifest):
    """The service's model store (shipped model specs from the manifest), engines configured."""
    if service == "static":
        from .static import models

        models.configure_cobra()
        specs = {mid: (entry.path, "sbml") for mid, entry in manifest.metabolic_models.items()}
        return models.CobraStore(settings, specs)
    from .dynamic import programs

    specs = {pid: (entry.path, entry.format) for pid, entry in manifest.kinetic_programs.items()}
    return programs.RoadRunnerStore(settings, specs)


def self_check(store) -> bool:
    """Run by every new engine before it serves: a tiny computation on the first shipped model (an
    FBA, a 2-point simulation). An engine whose template went bad fails it and is never used."""
    compiled = next(iter(store.shipped.values()), None)
    return compiled is None or store.self_check(compiled.engine)


def _call(store, fn, ref, args):
    if ref is None:
        return fn(store, *args)
    compiled = store.get(ref)
    result = fn(compiled.engine, *args)
    if isinstance(result, dict):
        result["model"] = compiled.describe()
    return result


def engine_main(conn: Connection, store) -> None:
    """Serve computations on ``conn`` until the front closes it."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    born = rss_bytes()
    conn.send_bytes(pickle.dumps(("ready", os.getpid(), born)))
    while True:
        try:
            fn, ref, args = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the front is gone or replaced this engine
        fatal = False
        try:
            reply = ("ok", _call(store, fn, ref, args))
        except ServiceError as exc:
            reply = ("error", (exc.status_code, exc.code, exc.message, exc.details))
        except BaseException as exc:  # noqa: BLE001 - the process is discarded, the front answers 500
            log.exception("engine %s: unexpected error in %s", os.getpid(), getattr(fn, "__name__", fn))
            reply, fatal = ("fatal", type(exc).__name__), True
        stats = {"rss": rss_bytes(), "sha256": getattr(ref, "cache_key", None)}
        try:
            conn.send_bytes(pickle.dumps((reply, stats), protocol=pickle.HIGHEST_PROTOCOL))
        except (pickle.PicklingError, TypeError) as exc:  # an answer that cannot travel is a defect
            log.error("engine %s: answer of %s could not be sent: %s", os.getpid(), fn, exc)
            conn.send_bytes(pickle.dumps((("fatal", "unsendable answer"), stats)))
            fatal = True
        except OSError:
            return
        if fatal:
            return


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def template_main(service: str, control_fd: int) -> None:
    from bioxen_common.manifest import load_manifest

    from .settings import Settings

    ctl = socket.socket(fileno=control_fd)
    out = Connection(os.dup(control_fd))
    started = time.monotonic()
    try:
        settings = Settings.from_env()
        manifest = load_manifest(settings.bytecode_dir)
        store = build_store(service, settings, manifest)
        # the modules whose functions the front sends, imported once here rather than in every engine
        __import__(f"bioxen_services.{service}.routes")
        store.load_shipped()
    except Exception as exc:  # noqa: BLE001 - reported to the front, which keeps the replica unready
        log.exception("%s template: loading the shipped models failed", service)
        out.send_bytes(pickle.dumps(("failed", f"{type(exc).__name__}: {exc}")))
        return
    out.send_bytes(pickle.dumps(("ready", sorted(store.shipped), time.monotonic() - started)))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps engines; the front watches them
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctl, 16, 1)
        except OSError:
            return
        if not data or not fds:
            return  # the front closed the control socket: the replica is stopping
        if _threads() != 1:
            log.warning("%s template runs %d threads; forking it is unsafe", service, _threads())
        pid = os.fork()
        if pid == 0:
            ctl.close()
            out.close()
            try:
                engine_main(Connection(fds[0]), store)
            finally:
                os._exit(0)
        os.close(fds[0])
        out.send_bytes(struct.pack("q", pid))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=os.environ.get("BIOXEN_LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front stops the replica, not a terminal's ^C
    template_main(argv[0], int(argv[1]))


if __name__ == "__main__":
    main()
