"""The ``serve`` command line, written once: ``bioxen serve ...`` (the VM side's CLI, which the images and
the tests run) offers it, and ``python -m bioxen_services ...`` (the services' own entry point, which
``bioxen serve`` executes in its place) runs it. Both take the same arguments::

    [--log-level LEVEL] serve static|dynamic [--host H] [--port P] [--engines N] [--timeout S] [--metrics-dir D]
"""

from __future__ import annotations

import argparse
import logging

from .names import DEFAULT_PORT, SERVICES

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SERVE_HELP = "start a computation service (a front and supervised engine processes)"


def add_log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default=None, choices=LOG_LEVELS,
                        help="default: info for serve and vm run, warning otherwise")


def add_serve_command(subparsers) -> argparse.ArgumentParser:
    """The ``serve`` sub-command on ``subparsers`` (from ``add_subparsers``)."""
    serve = subparsers.add_parser("serve", help=SERVE_HELP, description=SERVE_HELP)
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default: every interface)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--engines", "--workers", dest="engines", type=int, default=None,
                       help="engine processes (default: BIOXEN_ENGINES, else the CPUs available)")
    serve.add_argument("--timeout", type=float, default=None,
                       help="request deadline in seconds (default: BIOXEN_REQUEST_TIMEOUT_SECONDS, 60)")
    serve.add_argument("--metrics-dir", default=None, help="Prometheus multiprocess directory")
    return serve


def configure_logging(level: str) -> None:
    """Logging for a whole process, set once at its entry point."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
