"""The services' own entry point: ``python -m bioxen_services [--log-level L] serve static|dynamic ...``.

``bioxen serve`` (the ``bioxen`` command of the VM-side distribution) executes this in its own process,
so the images' ``bioxen serve static`` and this command are one server with one PID.
"""

from __future__ import annotations

import argparse
import sys

from bioxen_common import command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bioxen_services",
                                     description="BioXen computation services")
    command.add_log_level(parser)
    command.add_serve_command(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command.configure_logging(args.log_level or "info")
    from .server import serve  # after logging: serve sets PROMETHEUS_MULTIPROC_DIR before the metrics import

    serve(args.service, host=args.host, port=args.port, engines=args.engines, timeout=args.timeout,
          metrics_dir=args.metrics_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
