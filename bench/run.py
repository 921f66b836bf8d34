"""The benchmark of issue 5: the service path against the in-process path of the same work, in one run on
one machine. Prints a table (medians, ratios, target, met / not met) and writes it as JSON.

    .venv/bin/python bench/run.py --out bench/results.json      # what `make bench` runs (~5-8 min)
    .venv/bin/python bench/run.py --quick                       # fewer repetitions, smaller batches
    .venv/bin/python bench/run.py --only latency,fva            # some groups only

Services are started here with the production command (``bioxen serve``: a waitress front and engine processes) on
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
import rows_jobs  # noqa: E402
import rows_scale  # noqa: E402
import rows_single  # noqa: E402
from timing import Row  # noqa: E402

log = logging.getLogger("bench")

GROUPS = {
    "latency": rows_single.latency_rows,   # FBA, simulate, knockouts, scan, dFBA, inline model; 1 worker
    "validation": rows_single.validation_rows,  # each body against its declaration, in-process
    "fva": rows_scale.fva_row,             # FVA of iMM904 over 2 replicas vs 1
    "throughput": rows_scale.throughput_row,  # many clients, 2 workers vs 1
    "memory": rows_scale.memory_rows,      # cold start, RSS after 10,000 mixed requests vs 100
    "jobs": rows_jobs.jobs_rows,           # issue 14: jobs on real redis-server and workers (FVA 2 vs 1 worker, ...)
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


MARK_START = "<!-- bench:results:start (written by bench/run.py) -->"
MARK_END = "<!-- bench:results:end -->"


def markdown(info: dict, rows: list[Row], diagnostics: dict) -> str:
    """The machine and the table as Markdown, for the block between the markers in RESULTS.md."""
    v = info["versions"]
    lines = [f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {info['commit']}, "
             f"{info['total_seconds']:.0f} s. Machine: {info['nproc']} CPUs ({info['cpu']}), "
             f"{info['memory_gib']} GiB, {info['platform']}; Python {info['python']}, cobra {v['cobra']} "
             f"(GLPK via swiglpk {v['swiglpk']}), libroadrunner {v['libroadrunner']}, antimony {v['antimony']}, "
             f"Flask {v['flask']}, waitress {v['waitress']}; threads {info['threads']}. Load average "
             f"{info['load_before']} before, {info['load_after']} after.", "",
             "| row | service | in-process / baseline | value | target | status |",
             "|---|---|---|---|---|---|"]

    def fmt(stats, unit):
        if not stats or stats.get("median") is None:
            return "-"
        m = stats["median"]
        text = (f"{m * 1e3:.2f} ms" if m < 1 else f"{m:.2f} s") if unit == "s" else f"{m:.4g} {unit}"
        return text + (f" (n={stats['n']})" if stats.get("n", 1) > 1 else "")

    for r in rows:
        value = "-" if r.value is None else (f"{r.value:.2%}" if r.kind == "growth_max" else f"{r.value:.3g}")
        lines.append(f"| {r.id} | {fmt(r.service, r.unit)} | {fmt(r.reference_stats, r.unit)} | {value} | "
                     f"{r.target_text()} | **{r.status}** |")
    notes = [f"- `{r.id}`: {n}" for r in rows for n in r.notes]
    floor = diagnostics.get("latency", {}).get("http_floor_static")
    if floor:
        notes.append(f"- HTTP floor (static, 1 worker): GET /healthz {floor['healthz_client_median_s'] * 1e3:.2f} ms "
                     f"through the VM client's transport, {floor['healthz_session_median_s'] * 1e3:.2f} ms "
                     f"through a requests.Session, {floor['healthz_bare_socket_median_s'] * 1e3:.2f} ms over a "
                     f"bare socket; answers carry `Connection: {floor['connection_header']}`.")
    return "\n".join([MARK_START, *lines, "", *notes, MARK_END])


def update_results_md(path: Path, block: str) -> None:
    """Replace the marked block in ``path`` (kept: everything outside the markers)."""
    text = path.read_text() if path.exists() else ""
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        text = head + block + rest.split(MARK_END, 1)[1]
    else:
        text = text + ("\n" if text else "") + "## Benchmarks\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller batches (~2 min)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated groups of {list(GROUPS)}")
    parser.add_argument("--results-md", type=Path, default=Path(__file__).with_name("RESULTS.md"),
                        help="rewrite the marked results block of this file (not on --quick or --only runs)")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="only rewrite the results block of --results-md from an earlier run's JSON")
    args = parser.parse_args(argv)
    if args.render:
        saved = json.loads(args.render.read_text())
        fields = set(Row.__dataclass_fields__)
        rows = [Row(**{k: v for k, v in r.items() if k in fields}) for r in saved["rows"]]
        update_results_md(args.results_md, markdown(saved["machine"], rows, saved["diagnostics"]))
        print(f"updated {args.results_md} from {args.render}")
        return 0
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
    if not args.quick and set(args.only.split(",")) == set(GROUPS):
        update_results_md(args.results_md, markdown(info, rows, diagnostics))
        print(f"updated {args.results_md}")
    print(f"\nwritten {args.out} in {info['total_seconds']} s (load average {info['load_before']} -> "
          f"{info['load_after']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
