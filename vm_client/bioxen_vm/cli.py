"""The ``bioxen`` command.

``bioxen serve static|dynamic`` starts a computation service and ``bioxen worker static|dynamic`` a job
worker: each executes the services' own entry point (``python -m bioxen_services`` or
``python -m bioxen_services.jobs.worker``) with the same arguments in its own process (needs the
``bioxen-services`` distribution with its engine extra; this package never imports it). Every other
command is the lightweight VM side: ``demo``, ``vm run``, ``health``, ``fba``, ``fva``, ``knockouts``,
``simulate``, ``scan``, ``dfba``, and ``job submit|status|result|cancel|list`` for long computations.
Results print as tables; ``--json`` prints the service's JSON; ``--plot FILE.png`` draws it
(needs matplotlib: ``pip install 'bioxen-vm[plot]'``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

from bioxen_common import command
from bioxen_common.names import SERVICES_PACKAGE

from .errors import BioXenError, ServiceError
from .settings import ClientSettings


def _become(command: str, module: str, argv: list[str]) -> int:
    """Become ``python -m <module> <argv>``: one process, one PID (PID 1 in the images, so the server or
    worker itself receives SIGTERM). This package never imports the services."""
    if importlib.util.find_spec(SERVICES_PACKAGE) is None:
        print(f"bioxen {command} needs the bioxen-services distribution "
              "(pip install 'bioxen-services[static]' or '[dynamic]')", file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", module, *argv])


def _serve(args: argparse.Namespace) -> int:
    """``python -m bioxen_services`` with the same arguments."""
    return _become("serve", SERVICES_PACKAGE, args.argv)


def _worker(args: argparse.Namespace) -> int:
    """``python -m bioxen_services.jobs.worker <service> <its options>`` (its parser reads the rest)."""
    level = ["--log-level", args.log_level] if args.log_level else []
    return _become("worker", f"{SERVICES_PACKAGE}.jobs.worker", [args.service, *args.rest, *level])


# -- argument helpers ------------------------------------------------------------------------------
def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"{what} must look like KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: {text!r} is not a comma-separated list of numbers") from None


def _number_map(items, what) -> dict[str, float]:
    return {k: _floats(v, what)[0] for k, v in _pairs(items, what).items()}


def _bounds(items) -> dict[str, tuple[float, float]]:
    out = {}
    for key, value in _pairs(items, "--bound").items():
        values = _floats(value, "--bound")
        if len(values) != 2:
            raise argparse.ArgumentTypeError(f"--bound {key}= needs LOWER,UPPER")
        out[key] = (values[0], values[1])
    return out


def _list(text: str | None):
    if text is None:
        return None
    if text == "all":
        return "all"
    return [v.strip() for v in text.split(",") if v.strip()]


def _model(text: str):
    """A shipped model id, or a local SBML/Antimony file sent inline."""
    from .client import load_model_file

    path = Path(text)
    return load_model_file(path) if path.is_file() else text


def _client(args):
    from .client import BiologicalComputationClient

    return BiologicalComputationClient(args.static_url, args.dynamic_url, timeout=args.timeout,
                                       retries=args.retries)


def _progress(args, label: str):
    if args.json or args.no_progress:
        return False, lambda: None  # None would be the client's own bar
    from .jobs import progress_bar

    return progress_bar(label, "item")


# -- output ------------------------------------------------------------------------------------------
def _num(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[_num(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) if c[:1] in "-0123456789." else c.ljust(w) for c, w in zip(r, widths))
            for r in cells]
    return "\n".join(out)


def _plot(args, result) -> None:
    """``--plot FILE``: draw the result (:mod:`bioxen_vm.plots`); a result that cannot be drawn raises
    its PlotError (a ValueError: the reason printed, exit 2)."""
    if not getattr(args, "plot", None):
        return
    from .plots import save_plot

    try:
        save_plot(result, args.plot, top=getattr(args, "top", None))
    except ImportError as exc:
        raise SystemExit(f"--plot: {exc}") from None


def _emit(args, result: dict, text: str) -> int:
    if args.json:
        json.dump(result, sys.stdout, indent=None if args.compact else 2)
        sys.stdout.write("\n")
    else:
        print(text)
    return 0


# -- commands ----------------------------------------------------------------------------------------
def _health(args) -> int:
    with _client(args) as client:
        status = client.service_status()
    result = {"static_service": status["static"]["healthy"], "dynamic_service": status["dynamic"]["healthy"],
              "services": status}
    rows = [[s, "healthy" if v["healthy"] else "UNREACHABLE", ", ".join(v["endpoints"]) or "-", v["source"]]
            for s, v in status.items()]
    _emit(args, result, table(["service", "health", "endpoints", "discovered from"], rows))
    return 0 if all(v["healthy"] for v in status.values()) else 1


def _top_fluxes(fluxes: dict[str, float], top: int) -> dict[str, float]:
    ranked = sorted(fluxes.items(), key=lambda kv: -abs(kv[1] or 0.0))
    return dict(ranked[:top] if top else ranked)


def _fba(args) -> int:
    with _client(args) as client:
        result = client.fba(_model(args.model), objective=args.objective, bounds=_bounds(args.bound),
                            medium=_number_map(args.medium, "--medium") if args.medium else None,
                            knockout_genes=_list(args.knockout_genes),
                            knockout_reactions=_list(args.knockout_reactions),
                            method="pfba" if args.pfba else "fba")
    _plot(args, result)
    return _emit(args, result, _fba_text(result, args))


def _fba_text(result: dict, args) -> str:
    shown = _top_fluxes(result["fluxes"], args.top)
    return (f"{result['method']} on {result['model']['id']}: status {result['status']}, objective "
            f"{result['objective']} = {_num(result['objective_value'])}\n"
            + table(["reaction", "flux"], [[k, v] for k, v in shown.items()]))


def _fva(args) -> int:
    progress, done = _progress(args, "fva")
    with _client(args) as client:
        try:
            result = client.fva(_model(args.model), _list(args.reactions), fraction_of_optimum=args.fraction,
                                loopless=args.loopless, chunk_size=args.chunk_size, progress=progress)
        finally:
            done()
    _plot(args, result)
    return _emit(args, result, _fva_text(result, args))


def _fva_text(result: dict, args) -> str:
    return (f"FVA on {result['model']['id']}: status {result['status']}, objective value "
            f"{_num(result['objective_value'])}, fraction {result['fraction_of_optimum']}\n"
            + table(["reaction", "minimum", "maximum"],
                    [[k, v["minimum"], v["maximum"]] for k, v in result["ranges"].items()]))


def _knockouts(args) -> int:
    progress, done = _progress(args, "knockouts")
    with _client(args) as client:
        try:
            result = client.knockouts(_model(args.model), genes=_list(args.genes), reactions=_list(args.reactions),
                                      chunk_size=args.chunk_size, progress=progress)
        finally:
            done()
    _plot(args, result)
    return _emit(args, result, _knockouts_text(result, args))


def _knockouts_text(result: dict, args) -> str:
    wild = result["wild_type_growth"]
    rows = [[r["id"], r["growth"], None if not wild or r["growth"] is None else r["growth"] / wild, r["status"]]
            for r in result["results"]]
    return f"knockouts on {result['model']['id']}: wild-type growth {_num(wild)}\n" + table(
        ["deletion", "growth", "relative", "status"], rows)


def _simulate(args) -> int:
    with _client(args) as client:
        result = client.simulate(_model(args.model), start=args.start, end=args.end, points=args.points,
                                 selections=_list(args.select), parameters=_number_map(args.param, "--param"),
                                 initial_conditions=_number_map(args.initial, "--initial"),
                                 integrator=args.integrator, seed=args.seed)
    _plot(args, result)
    return _emit(args, result, _simulate_text(result, args))


def _rows(times: list, rows: int) -> list[int]:
    """Indices of about ``rows`` evenly spaced time points, the last one included."""
    step = max(1, (len(times) - 1) // max(1, rows - 1))
    return sorted({*range(0, len(times), step), len(times) - 1})


def _simulate_text(result: dict, args) -> str:
    traj = result["trajectories"]
    idx = _rows(result["time"], args.rows)
    return (f"simulation of {result['model']['id']} ({result['integrator']}), {len(result['time'])} points\n"
            + table(["time", *traj], [[result["time"][i], *(traj[s][i] for s in traj)] for i in idx]))


def _scan(args) -> int:
    grid = {k: _floats(v, "--grid") for k, v in _pairs(args.grid, "--grid").items()}
    if not grid:
        raise SystemExit("scan needs at least one --grid PARAM=v1,v2,...")
    progress, done = _progress(args, "scan")
    with _client(args) as client:
        try:
            result = client.scan(_model(args.model), grid, start=args.start, end=args.end, points=args.points,
                                 selections=_list(args.select), chunk_size=args.chunk_size, progress=progress)
        finally:
            done()
    _plot(args, result)
    return _emit(args, result, _scan_text(result, args))


def _scan_text(result: dict, args) -> str:
    final = result["final"]
    rows = [[*point, *(final[s][i] for s in final)] for i, point in enumerate(result["points"])]
    return (f"scan of {result['model']['id']}: {len(result['points'])} points, values at t={result['time_end']}\n"
            + table([*result["parameters"], *final], rows))


def _dfba(args) -> int:
    uptake = {}
    for rid, value in _pairs(args.uptake, "--uptake").items():
        numbers = _floats(value, "--uptake")
        if len(numbers) != 2:
            raise SystemExit(f"--uptake {rid}= needs VMAX,KM")
        uptake[rid] = {"vmax": numbers[0], "km": numbers[1]}
    with _client(args) as client:
        result = client.dfba(_model(args.model), biomass=args.biomass,
                             concentrations=_number_map(args.conc, "--conc") or {"EX_glc__D_e": 10.0},
                             uptake=uptake or None, end=args.end, points=args.points)
    _plot(args, result)
    return _emit(args, result, _dfba_text(result, args))


def _dfba_text(result: dict, args) -> str:
    series = {"biomass": result["biomass"], **result["concentrations"]}
    idx = _rows(result["time"], args.rows)
    return (f"dFBA of {result['model']['id']}: {len(result['time'])} points\n"
            + table(["time (h)", "growth", *series],
                    [[result["time"][i], result["growth_rate"][i], *(series[s][i] for s in series)] for i in idx]))


def _demo(args) -> int:
    from .demo import main as demo_main

    return demo_main(args.static_url, args.dynamic_url)


def _vm_run(args) -> int:
    from .runner import run_vm

    return run_vm(vm_id=args.id, biological_type=args.type, vm_type=args.vm_type, interval=args.interval,
                  metrics_port=args.metrics_port, iterations=args.iterations,
                  static_url=args.static_url, dynamic_url=args.dynamic_url)


# -- jobs --------------------------------------------------------------------------------------------
#: how ``bioxen job result`` shows each kind's answer (the kinds without a command print JSON)
RESULT_TEXT = {"fba": _fba_text, "fva": _fva_text, "knockouts": _knockouts_text, "simulate": _simulate_text,
               "scan": _scan_text, "dfba": _dfba_text}


def _read_request(source: str) -> dict:
    """The synchronous endpoint's body, from a JSON file or ``-`` (stdin)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise ValueError(f"--request {source}: {exc.strerror or exc}") from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--request {source} is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError(f"--request {source} must hold a JSON object (the synchronous endpoint's body)")
    return body


def _job_line(job: dict) -> str:
    progress = job.get("progress") or {}
    times = "  ".join(f"{k} {job[k]}" for k in ("created", "started", "finished") if job.get(k))
    line = (f"{job['id']}  {job.get('service', '?')} {job.get('kind', '?')}  {job['status']}  "
            f"{progress.get('done', '?')}/{progress.get('total', '?')} chunks  {times}")
    error = job.get("error")
    if error:
        line += f"\n  error: {error.get('code')}: {error.get('message')}"
    return line


def _job_submit(args) -> int:
    request = _read_request(args.request)
    with _client(args) as client:
        job = client.submit(args.kind, request, service=args.service, chunk_size=args.chunk_size)
        info = job.info
        if args.wait:
            info = job.wait(timeout=args.wait_timeout, poll=args.poll, progress=False if args.no_progress else None)
    text = _job_line(info)
    if not args.wait:
        text += f"\n  watch: bioxen job status {job.id} --service {job.service}"
    elif info["status"] == "succeeded":
        text += f"\n  result: bioxen job result {job.id} --service {job.service}"
    _emit(args, info, text)
    return 0 if not args.wait or info["status"] == "succeeded" else 1


def _job_status(args) -> int:
    with _client(args) as client:
        info = client.job(args.id, args.service).info
    return _emit(args, info, _job_line(info))


def _job_result(args) -> int:
    with _client(args) as client:
        job = client.job(args.id, args.service)
        result = job.result()
    render = RESULT_TEXT.get(job.kind)
    if render is None:  # no table for this kind
        args.json = True
    return _emit(args, result, render(result, args) if render else "")


def _job_cancel(args) -> int:
    with _client(args) as client:
        info = client.job(args.id, args.service).cancel()
    return _emit(args, info, _job_line(info))


def _job_list(args) -> int:
    with _client(args) as client:
        jobs = client.jobs(args.service)
    rows = [[j["id"], j.get("kind"), j["status"], f"{j['progress']['done']}/{j['progress']['total']}",
             j.get("created"), j.get("finished")] for j in jobs]
    return _emit(args, {"jobs": jobs}, table(["id", "kind", "status", "chunks", "created", "finished"], rows))


def _job_commands(sub) -> None:
    from .jobs import KINDS

    job = sub.add_parser("job", help="long computations as jobs: submit, watch, fetch the result later")
    job_sub = job.add_subparsers(dest="job_command", required=True)
    kinds = [k for ks in KINDS.values() for k in ks]
    p = _command(job_sub, "submit", _job_submit, "submit a job: the body of the kind's synchronous endpoint, "
                 "queued and run by the service's workers", plot=False)
    p.add_argument("kind", choices=kinds, help="static: fba, fva, knockouts, dfba; dynamic: simulate, ensemble, "
                   "scan, steady-state")
    p.add_argument("--request", required=True, metavar="FILE.json|-",
                   help="the synchronous endpoint's JSON body (- reads stdin)")
    p.add_argument("--chunk-size", type=int, default=None, help="items per chunk (default: sized by the service)")
    p.add_argument("--service", choices=list(KINDS), default=None, help="default: the kind's service")
    p.add_argument("--wait", action="store_true", help="wait for the job to end (progress bar on a terminal); "
                   "exit 1 unless it succeeded")
    p.add_argument("--wait-timeout", type=float, default=None, metavar="SECONDS", help="with --wait: give up after")
    p.add_argument("--poll", type=float, default=0.5, metavar="SECONDS", help="with --wait: seconds between polls")
    for name, func, help_text in (("status", _job_status, "a job's status and progress"),
                                  ("result", _job_result, "a finished job's answer, as the synchronous endpoint's"),
                                  ("cancel", _job_cancel, "cancel a job (its queued chunks are dropped at once)")):
        p = _command(job_sub, name, func, help_text, plot=False)
        p.add_argument("id")
        p.add_argument("--service", choices=list(KINDS), required=True)
        if name == "result":
            p.add_argument("--top", type=int, default=20, help="fba: show the N largest fluxes (0: all)")
            p.add_argument("--rows", type=int, default=11, help="simulate, dfba: table rows shown")
    p = _command(job_sub, "list", _job_list, "the service's recent jobs, newest first", plot=False)
    p.add_argument("--service", choices=list(KINDS), required=True)


# -- parser ------------------------------------------------------------------------------------------
def _endpoint_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--static-url", default=None, help="static service URL(s), comma-separated "
                   "(default: BIOXEN_STATIC_URL, then cluster DNS)")
    p.add_argument("--dynamic-url", default=None, help="dynamic service URL(s), comma-separated "
                   "(default: BIOXEN_DYNAMIC_URL, then cluster DNS)")
    p.add_argument("--timeout", type=float, default=None,
                   help=f"seconds to wait for an answer (default: {ClientSettings.timeout.read:g})")
    p.add_argument("--retries", type=int, default=None,
                   help=f"retries on connection errors and 503 (default: {ClientSettings.retries})")


def _output_args(p: argparse.ArgumentParser, plot: bool = True) -> None:
    p.add_argument("--json", action="store_true", help="print the service's JSON answer")
    p.add_argument("--compact", action="store_true", help="with --json: one line")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    if plot:
        p.add_argument("--plot", metavar="FILE.png", help="draw the result (needs matplotlib)")


def _command(sub, name: str, func, help_text: str, plot: bool = True) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    _endpoint_args(p)
    _output_args(p, plot)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bioxen", description=__doc__.split("\n\n")[0])
    command.add_log_level(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    command.add_serve_command(sub).set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="run job chunks of a service's queue (needs BIOXEN_REDIS_URL)")
    worker.add_argument("service", choices=["static", "dynamic"])
    worker.add_argument("rest", nargs=argparse.REMAINDER, metavar="...",
                        help="the worker's options (--engines, --metrics-port, --metrics-dir ...): "
                             "python -m bioxen_services.jobs.worker --help")
    worker.set_defaults(func=_worker)

    demo = sub.add_parser("demo", help="the service-based computation demo (starts local services if "
                                       "no endpoint is configured)")
    demo.add_argument("--static-url", default=None)
    demo.add_argument("--dynamic-url", default=None)
    demo.set_defaults(func=_demo)

    vm = sub.add_parser("vm", help="biological VMs")
    vm_sub = vm.add_subparsers(dest="vm_command", required=True)
    run = vm_sub.add_parser("run", help="a long-running VM: runs its chassis' processes on a schedule")
    run.add_argument("--id", required=True, help="VM id, e.g. ecoli_vm_1")
    run.add_argument("--type", required=True, help="biological type: ecoli, yeast, syn3a, minimal_cell, orthogonal")
    run.add_argument("--vm-type", default="basic", help="basic, lightweight or enhanced")
    run.add_argument("--interval", type=float, default=10.0, help="seconds between process rounds")
    run.add_argument("--metrics-port", type=int, default=None, help="export Prometheus metrics on this port")
    run.add_argument("--iterations", type=int, default=None, help="stop after N rounds (default: until SIGTERM)")
    run.add_argument("--static-url", default=None)
    run.add_argument("--dynamic-url", default=None)
    run.set_defaults(func=_vm_run)

    _command(sub, "health", _health, "are the services reachable (exit 1 if not)", plot=False)

    p = _command(sub, "fba", _fba, "flux-balance analysis on the static service")
    p.add_argument("--model", default="e_coli_core", help="shipped model id or a local SBML file")
    p.add_argument("--objective", default=None)
    p.add_argument("--bound", action="append", metavar="RXN=LB,UB")
    p.add_argument("--medium", action="append", metavar="EX_RXN=UPTAKE")
    p.add_argument("--knockout-genes", default=None, metavar="G1,G2")
    p.add_argument("--knockout-reactions", default=None, metavar="R1,R2")
    p.add_argument("--pfba", action="store_true", help="parsimonious FBA")
    p.add_argument("--top", type=int, default=20, help="show the N largest fluxes (0: all)")

    p = _command(sub, "fva", _fva, "flux variability analysis (chunked over all endpoints)")
    p.add_argument("--model", default="e_coli_core")
    p.add_argument("--reactions", default=None, metavar="R1,R2", help="default: every reaction")
    p.add_argument("--fraction", type=float, default=1.0, help="fraction of the optimum")
    p.add_argument("--loopless", action="store_true")
    p.add_argument("--chunk-size", type=int, default=25)

    p = _command(sub, "knockouts", _knockouts, "single-deletion growth (chunked over all endpoints)")
    p.add_argument("--model", default="e_coli_core")
    p.add_argument("--genes", default=None, metavar="G1,G2|all")
    p.add_argument("--reactions", default=None, metavar="R1,R2|all")
    p.add_argument("--chunk-size", type=int, default=100)

    p = _command(sub, "simulate", _simulate, "time-course simulation on the dynamic service")
    p.add_argument("model", nargs="?", default="gene_expression",
                   help="shipped program id or a local SBML/Antimony file (sent inline)")
    p.add_argument("--start", type=float, default=0.0)
    p.add_argument("--end", type=float, default=10.0)
    p.add_argument("--points", type=int, default=100)
    p.add_argument("--select", default=None, metavar="S1,S2")
    p.add_argument("--param", action="append", metavar="K=V")
    p.add_argument("--initial", action="append", metavar="S=V")
    p.add_argument("--integrator", choices=["cvode", "gillespie"], default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--rows", type=int, default=11, help="table rows shown")

    p = _command(sub, "scan", _scan, "parameter scan (grid chunked over all endpoints)")
    p.add_argument("model", nargs="?", default="gene_expression")
    p.add_argument("--grid", action="append", metavar="PARAM=v1,v2,...")
    p.add_argument("--start", type=float, default=0.0)
    p.add_argument("--end", type=float, default=10.0)
    p.add_argument("--points", type=int, default=100)
    p.add_argument("--select", default=None)
    p.add_argument("--chunk-size", type=int, default=50)

    p = _command(sub, "dfba", _dfba, "dynamic FBA of a batch culture on the static service")
    p.add_argument("--model", default="e_coli_core")
    p.add_argument("--biomass", type=float, default=0.05, help="initial biomass (gDW/L)")
    p.add_argument("--conc", action="append", metavar="EX_RXN=mM", help="initial concentrations")
    p.add_argument("--uptake", action="append", metavar="EX_RXN=VMAX,KM", help="Michaelis-Menten uptake")
    p.add_argument("--end", type=float, default=10.0, help="hours")
    p.add_argument("--points", type=int, default=101)
    p.add_argument("--rows", type=int, default=11)

    _job_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command in ("serve", "worker"):  # the services' entry points configure their own process
        return args.func(args)
    command.configure_logging(args.log_level or ("info" if args.command == "vm" else "warning"))
    try:
        return args.func(args)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    except ServiceError as exc:
        print(f"error from the service: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except BioXenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
