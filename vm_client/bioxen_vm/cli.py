"""The ``bioxen`` command.

``bioxen serve static|dynamic`` starts a computation service (needs the ``bioxen-services``
distribution with its engine extra); every other command is the lightweight VM side.
"""

from __future__ import annotations

import argparse
import logging
import sys


def _serve(args: argparse.Namespace) -> int:
    try:
        from bioxen_services.server import serve
    except ImportError:
        print("bioxen serve needs the bioxen-services distribution "
              "(pip install 'bioxen-services[static]' or '[dynamic]')", file=sys.stderr)
        return 2
    serve(args.service, host=args.host, port=args.port, workers=args.workers, timeout=args.timeout,
          metrics_dir=args.metrics_dir, log_level=args.log_level)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bioxen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start a computation service (gunicorn)")
    serve.add_argument("service", choices=["static", "dynamic"])
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=None, help="default: the CPUs available")
    serve.add_argument("--timeout", type=float, default=None,
                       help="seconds before gunicorn kills a stuck worker (default: budget + 30)")
    serve.add_argument("--metrics-dir", default=None, help="Prometheus multiprocess directory")
    serve.set_defaults(func=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
