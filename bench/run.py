"""The benchmark of issue 5: the service path against the in-process path of the same work, in one run on
one machine. Prints a table (medians, ratios, target, met / not met) and writes it as JSON.

    .venv/bin/python bench/run.py --out bench/results.json      # what `make bench` runs (~5-8 min)
    .venv/bin/python bench/run.py --quick                       # fewer repetitions, smaller batches
    .venv/bin/python bench/run.py --only latency,fva            # some groups only

Services are started here with the production command (``bioxen serve``, gunicorn sync workers) on
loopback and stopped at the end. BLAS/OpenMP threads are held at one, in this process and the services.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported, here and in every service started from here

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import machine  # noqa: E402
import rows_scale  # noqa: E402
import rows_single  # noqa: E402
from timing import Row  # noqa: E402

log = logging.getLogger("bench")

GROUPS = {
    "latency": rows_single.latency_rows,   # FBA, simulate, knockouts, scan, dFBA, inline model; 1 worker
    "fva": rows_scale.fva_row,             # FVA of iMM904 over 2 replicas vs 1
    "throughput": rows_scale.throughput_row,  # many clients, 2 workers vs 1
    "memory": rows_scale.memory_rows,      # cold start, RSS after 10,000 mixed requests vs 100
}


def print_table(rows: list[Row]) -> str:
    def fmt(stats, unit):
        if not stats or stats.get("median") is None:
            return "-"
        value = stats["median"]
        return f"{value * 1e3:.2f} ms" if unit == "s" and value < 1 else (
            f"{value:.3f} s" if unit == "s" else f"{value:.4g} {unit}")

    header = ("row", "service", "reference", "value", "target", "status")
    lines = [[r.id, fmt(r.service, r.unit), fmt(r.reference_stats, r.unit),
              "-" if r.value is None else f"{r.value:.3g}", r.target_text(), r.status] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    out = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in (header, *lines)]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller batches (~2 min)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated groups of {list(GROUPS)}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    unknown = set(args.only.split(",")) - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups {sorted(unknown)}")

    started = time.monotonic()
    info = machine.describe()
    rows: list[Row] = []
    diagnostics: dict = {}
    for name, group in GROUPS.items():
        if name not in args.only.split(","):
            continue
        log.info("group %s", name)
        t0 = time.monotonic()
        try:
            new_rows, diag = group(quick=args.quick)
        except Exception as exc:  # one broken group must not lose the others' numbers
            log.exception("group %s failed", name)
            new_rows, diag = [Row(name, f"group {name}", "-", "report", None, status="failed",
                                  notes=[f"{type(exc).__name__}: {exc}"])], {}
        rows += new_rows
        diagnostics[name] = {**diag, "seconds": round(time.monotonic() - t0, 1)}
    info["load_after"] = machine.loadavg()
    info["total_seconds"] = round(time.monotonic() - started, 1)

    table = print_table(rows)
    print()
    print(table)
    for row in rows:
        for note in row.notes:
            print(f"  {row.id}: {note}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": info, "quick": args.quick, "rows": [r.as_dict() for r in rows],
                                    "diagnostics": diagnostics, "table": table}, indent=2) + "\n")
    print(f"\nwritten {args.out} in {info['total_seconds']} s (load average {info['load_before']} -> "
          f"{info['load_after']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
