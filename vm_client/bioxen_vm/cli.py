"""The ``bioxen`` command.

``bioxen serve static|dynamic`` starts a computation service and ``bioxen worker static|dynamic`` a job
worker: each executes the services' own entry point (``python -m bioxen_services`` or
``python -m bioxen_services.jobs.worker``) with the same arguments in its own process (needs the
``bioxen-services`` distribution with its engine extra; this package never imports it). Every other
command is the lightweight VM side: ``demo``, ``vm run``, ``health``, ``models``, ``omex FILE.omex`` (a
COMBINE archive's SED-ML experiment), ``job submit|status|result|cancel|list`` for long computations, and
the model commands (:data:`MODEL_COMMANDS`),
which share one grammar: ``bioxen COMMAND [MODEL] [options]``, the model (a shipped id or a local model file,
sent inline) first, the same option names for the same things. Results print as tables (``--format
table``), the service's JSON (``--format json``, or ``--json``) or CSV of the table's rows (``--format
csv``); ``--plot FILE.png`` draws it (needs matplotlib: ``pip install 'bioxen-vm[plot]'``).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bioxen_common import command
from bioxen_common.names import SERVICES_PACKAGE

from .errors import BioXenError, ClientRequestError, ServiceError
from .settings import FVA_CHUNK, KNOCKOUT_CHUNK, SCAN_CHUNK, ClientSettings


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
    """A shipped model id, or a local model file sent inline (SBML, Antimony; COBRA JSON and MATLAB files
    converted with cobra): told apart by its content (``load_model_file``)."""
    from .client import load_model_file

    path = Path(text)
    if path.is_file():
        return load_model_file(path)
    if os.sep in text or "." in text:  # shipped ids have neither: a file name that is not there
        raise ValueError(f"{text}: no such model file (and not a shipped model id: bioxen models lists them)")
    return text


def _client(args):
    from .client import BiologicalComputationClient

    return BiologicalComputationClient(args.static_url, args.dynamic_url, timeout=args.timeout,
                                       retries=args.retries)


def _progress(args, label: str):
    """A bar on stderr for a fanned-out batch, when someone watches (a terminal) and reads a table."""
    from .jobs import interactive, progress_bar

    if args.format != "table" or args.no_progress or not interactive():
        return False, lambda: None  # None would be the client's own bar

    return progress_bar(label, "item")


# -- output ------------------------------------------------------------------------------------------
def _num(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _numeric(value) -> bool:
    """Right-aligned in a table: numbers and missing numbers, never text (``12DGR`` is a reaction id)."""
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[_num(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) if _numeric(v) else c.ljust(w) for v, c, w in zip(row, r, widths))
            for row, r in zip(rows, cells)]
    return "\n".join(line.rstrip() for line in out)


@dataclass
class View:
    """How a result prints: a title line over a table of ``rows`` (``--format table``), the rows alone
    (``--format csv``); ``text``, when given, is printed instead of title and table."""

    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    text: str | None = None

    def render(self) -> str:
        if self.text is not None:
            return self.text
        return "\n".join(filter(None, [self.title, table(self.headers, self.rows)]))


def write_csv(out, view: View) -> None:
    """The table's rows as CSV (missing values empty, numbers at full precision)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(view.headers)
    writer.writerows([["" if v is None else v for v in row] for row in view.rows])


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


def _emit(args, result: dict, view: View | None) -> int:
    """Print ``result`` in ``args.format``: JSON as the service answered, or ``view`` as a table or CSV
    (a result with no view prints as JSON)."""
    if args.format == "json" or view is None:
        json.dump(result, sys.stdout, indent=None if args.compact else 2)
        sys.stdout.write("\n")
    elif args.format == "csv":
        write_csv(sys.stdout, view)
    else:
        print(view.render())
    return 0


# -- commands ----------------------------------------------------------------------------------------
def _health(args) -> int:
    with _client(args) as client:
        status = client.service_status()
    result = {"static_service": status["static"]["healthy"], "dynamic_service": status["dynamic"]["healthy"],
              "services": status}
    rows = [[s, "healthy" if v["healthy"] else "UNREACHABLE", ", ".join(v["endpoints"]) or "-", v["source"]]
            for s, v in status.items()]
    _emit(args, result, View("", ["service", "health", "endpoints", "discovered from"], rows))
    return 0 if all(v["healthy"] for v in status.values()) else 1


def _top_fluxes(fluxes: dict[str, float], top: int) -> dict[str, float]:
    ranked = sorted(fluxes.items(), key=lambda kv: -abs(kv[1] or 0.0))
    return dict(ranked[:top] if top else ranked)


def _changes(args, medium: bool = True, knockouts: bool = True) -> dict:
    """The model changes a metabolic command was given (its :func:`_change_args`) as client keywords."""
    changes = {"objective": args.objective, "bounds": _bounds(args.bound)}
    if medium:
        changes["medium"] = _number_map(args.medium, "--medium")
    if knockouts:
        changes.update(knockout_genes=_list(args.knockout_genes), knockout_reactions=_list(args.knockout_reactions))
    return {k: v for k, v in changes.items() if v}


def _fba(args) -> int:
    with _client(args) as client:
        result = client.fba(_model(args.model), method="pfba" if args.pfba else "fba", **_changes(args))
    shown = _top_fluxes(result["fluxes"], args.top)
    _plot(args, result)
    return _emit(args, result, _fba_view(result, args))


def _fba_view(result: dict, args) -> View:
    shown = _top_fluxes(result["fluxes"], args.top)
    return View(f"{result['method']} on {result['model']['id']}: status {result['status']}, objective "
                f"{result['objective']} = {_num(result['objective_value'])}",
                ["reaction", "flux"], [[k, v] for k, v in shown.items()])


def _fva(args) -> int:
    progress, done = _progress(args, "fva")
    with _client(args) as client:
        try:
            result = client.fva(_model(args.model), _list(args.reactions), fraction_of_optimum=args.fraction,
                                loopless=args.loopless, chunk_size=args.chunk_size, progress=progress,
                                **_changes(args))
        finally:
            done()
    ranges = result["ranges"]
    _plot(args, result)
    return _emit(args, result, _fva_view(result, args))


def _fva_view(result: dict, args) -> View:
    return View(f"FVA on {result['model']['id']}: status {result['status']}, objective value "
                f"{_num(result['objective_value'])}, fraction {result['fraction_of_optimum']}",
                ["reaction", "minimum", "maximum"],
                [[k, v["minimum"], v["maximum"]] for k, v in result["ranges"].items()])


def _knockouts(args) -> int:
    progress, done = _progress(args, "knockouts")
    with _client(args) as client:
        try:
            result = client.knockouts(_model(args.model), genes=_list(args.genes), reactions=_list(args.reactions),
                                      chunk_size=args.chunk_size, progress=progress,
                                      **_changes(args, knockouts=False))
        finally:
            done()
    _plot(args, result)
    return _emit(args, result, _knockouts_view(result, args))


def _knockouts_view(result: dict, args) -> View:
    wild = result["wild_type_growth"]
    rows = [[r["id"], r["growth"], None if not wild or r["growth"] is None else r["growth"] / wild, r["status"]]
            for r in result["results"]]
    return View(f"knockouts on {result['model']['id']}: wild-type growth {_num(wild)}",
                ["deletion", "growth", "relative", "status"], rows)


def _values(args) -> dict:
    """``--param`` and ``--initial`` of the kinetic commands as client keywords."""
    return {"parameters": _number_map(args.param, "--param"),
            "initial_conditions": _number_map(args.initial, "--initial")}


def _simulate(args) -> int:
    with _client(args) as client:
        result = client.simulate(_model(args.model), start=args.start, end=args.end, points=args.points,
                                 selections=_list(args.select), integrator=args.integrator, seed=args.seed,
                                 **_values(args))
    _plot(args, result)
    return _emit(args, result, _simulate_view(result, args))


def _rows(times: list, rows: int) -> list[int]:
    """Indices of about ``rows`` evenly spaced time points, the last one included."""
    step = max(1, (len(times) - 1) // max(1, rows - 1))
    return sorted({*range(0, len(times), step), len(times) - 1})


def _simulate_view(result: dict, args) -> View:
    traj = result["trajectories"]
    idx = _rows(result["time"], args.rows)
    return View(f"simulation of {result['model']['id']} ({result['integrator']}), {len(result['time'])} points",
                ["time", *traj], [[result["time"][i], *(traj[s][i] for s in traj)] for i in idx])


def _scan(args) -> int:
    grid = {k: _floats(v, "--grid") for k, v in _pairs(args.grid, "--grid").items()}
    if not grid:
        raise SystemExit("scan needs at least one --grid PARAM=v1,v2,...")
    progress, done = _progress(args, "scan")
    with _client(args) as client:
        try:
            result = client.scan(_model(args.model), grid, start=args.start, end=args.end, points=args.points,
                                 selections=_list(args.select), chunk_size=args.chunk_size, progress=progress,
                                 **_values(args))
        finally:
            done()
    _plot(args, result)
    return _emit(args, result, _scan_view(result, args))


def _scan_view(result: dict, args) -> View:
    final = result["final"]
    rows = [[*point, *(final[s][i] for s in final)] for i, point in enumerate(result["points"])]
    return View(f"scan of {result['model']['id']}: {len(result['points'])} points, values at t={result['time_end']}",
                [*result["parameters"], *final], rows)


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
                             uptake=uptake or None, start=args.start, end=args.end, points=args.points,
                             **_changes(args, medium=False, knockouts=False))
    _plot(args, result)
    return _emit(args, result, _dfba_view(result, args))


def _dfba_view(result: dict, args) -> View:
    series = {"biomass": result["biomass"], **result["concentrations"]}
    idx = _rows(result["time"], args.rows)
    return View(f"dFBA of {result['model']['id']}: {len(result['time'])} points",
                ["time (h)", "growth", *series],
                [[result["time"][i], result["growth_rate"][i], *(series[s][i] for s in series)] for i in idx])


def _steady_state(args) -> int:
    with _client(args) as client:
        result = client.steady_state(_model(args.model), **_values(args))
    return _emit(args, result, _steady_state_view(result, args))


def _steady_state_view(result: dict, args) -> View:
    rows = [*(["species", k, v] for k, v in result["steady_state"].items()),
            *(["reaction rate", k, v] for k, v in result["reaction_rates"].items())]
    return View(f"steady state of {result['model']['id'] or 'inline model'} ({result['species_values']})",
                ["quantity", "id", "value"], rows)


#: the columns of ``bioxen models``: counts from the static summaries, species from the dynamic ones
MODEL_COLUMNS = ("reactions", "metabolites", "genes")


def _models(args) -> int:
    services = [args.service] if args.service else ["static", "dynamic"]
    with _client(args) as client:
        if args.id is None:
            listed = {service: client.models(service) for service in services}
            return _emit(args, listed, _models_view(listed))
        for service in services:
            try:
                detail = client.model(service, args.id)
            except ClientRequestError as exc:
                if exc.code != "unknown_model":
                    raise
                continue
            return _emit(args, {"service": service, **detail}, _model_view(service, detail))
    raise ValueError(f"no shipped model {args.id!r} on the {' or '.join(services)} service "
                     "(bioxen models lists them)")


def _models_view(listed: dict[str, list[dict]]) -> View:
    rows = [[service, m["id"], *(m.get(c) for c in MODEL_COLUMNS),
             len(m["floating_species"]) if "floating_species" in m else None, m.get("description")]
            for service, models in listed.items() for m in models]
    return View("", ["service", "id", *MODEL_COLUMNS, "species", "description"], rows)


def _model_view(service: str, detail: dict) -> View:
    if service == "static":
        medium = detail["medium"]
        rows = [*(["reaction", r, medium.get(r)] for r in detail["reaction_ids"]),
                *(["gene", g, None] for g in detail["gene_ids"])]
        objective = detail["objective"]
        objective = objective if isinstance(objective, str) else " + ".join(objective)
        return View(f"{detail['id']} ({detail['organism']}): {detail['description']}; objective {objective}",
                    ["kind", "id", "medium uptake (mmol/gDW/h)"], rows)
    rows = [*(["floating species", x, None] for x in detail["floating_species"]),
            *(["boundary species", x, None] for x in detail["boundary_species"]),
            *(["parameter", k, v] for k, v in detail["parameters"].items()),
            *(["reaction", r, None] for r in detail["reactions"])]
    return View(f"{detail['id']} ({detail['format']}): {detail['description']}", ["kind", "id", "value"], rows)


def _omex(args) -> int:
    """``bioxen omex FILE.omex [--out DIR]``: run a COMBINE archive on the service whose tasks it holds;
    write reports.h5, a CSV per report and a PNG per plot into DIR; print what was written."""
    with _client(args) as client:
        result = client.run_omex(args.archive, service=args.service, seed=args.seed)
    from .omex import array_shape

    written = result.save(args.out)
    rows = [[key, len(sets), array_shape(sets[0]["values"]) if sets else "-"]
            for key, sets in ((k, r["data_sets"]) for k, r in result.answer["reports"].items())]
    text = (result.summary() + f"\nwrote {len(written)} files to {args.out}: "
            + ", ".join(sorted(str(p.relative_to(args.out)) for p in written)))
    return _emit(args, result.answer, View("", ["report", "data sets", "shape"], rows, text=text))


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
RESULT_VIEWS = {"fba": _fba_view, "fva": _fva_view, "knockouts": _knockouts_view, "simulate": _simulate_view,
                "scan": _scan_view, "dfba": _dfba_view, "steady-state": _steady_state_view}


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


JOB_COLUMNS = ["id", "service", "kind", "status", "chunks done", "chunks", "created", "started", "finished",
               "error"]


def _job_row(job: dict) -> list:
    progress, error = job.get("progress") or {}, job.get("error") or {}
    return [job["id"], job.get("service"), job.get("kind"), job["status"], progress.get("done"), progress.get("total"),
            job.get("created"), job.get("started"), job.get("finished"), error.get("code")]


def _job_view(job: dict, hint: str = "") -> View:
    """One job: its status line (and what to do next) as text, a row in CSV."""
    return View("", JOB_COLUMNS, [_job_row(job)], text=_job_line(job) + hint)


def _job_submit(args) -> int:
    request = _read_request(args.request)
    with _client(args) as client:
        job = client.submit(args.kind, request, service=args.service, chunk_size=args.chunk_size)
        info = job.info
        if args.wait:
            info = job.wait(timeout=args.wait_timeout, poll=args.poll, progress=False if args.no_progress else None)
    hint = ""
    if not args.wait:
        hint = f"\n  watch: bioxen job status {job.id} --service {job.service}"
    elif info["status"] == "succeeded":
        hint = f"\n  result: bioxen job result {job.id} --service {job.service}"
    _emit(args, info, _job_view(info, hint))
    return 0 if not args.wait or info["status"] == "succeeded" else 1


def _job_status(args) -> int:
    with _client(args) as client:
        info = client.job(args.id, args.service).info
    return _emit(args, info, _job_view(info))


def _job_result(args) -> int:
    with _client(args) as client:
        job = client.job(args.id, args.service)
        result = job.result()
    view = RESULT_VIEWS.get(job.kind)  # the kinds without one (ensemble) print JSON
    return _emit(args, result, view(result, args) if view else None)


def _job_cancel(args) -> int:
    with _client(args) as client:
        info = client.job(args.id, args.service).cancel()
    return _emit(args, info, _job_view(info))


def _job_list(args) -> int:
    with _client(args) as client:
        jobs = client.jobs(args.service)
    return _emit(args, {"jobs": jobs}, View("", JOB_COLUMNS, [_job_row(j) for j in jobs]))


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
#: the model commands: ``bioxen COMMAND [MODEL] [options]``, MODEL defaulting to the service's usual model
MODEL_COMMANDS = {"fba": "e_coli_core", "fva": "e_coli_core", "knockouts": "e_coli_core", "dfba": "e_coli_core",
                  "simulate": "gene_expression", "scan": "gene_expression", "steady-state": "gene_expression"}
FORMATS = ("table", "json", "csv")


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
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (default), the service's JSON, or CSV of the table's rows")
    p.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")
    p.add_argument("--compact", action="store_true", help="with --format json: one line")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    if plot:
        p.add_argument("--plot", metavar="FILE.png", help="draw the result (needs matplotlib)")


def _command(sub, name: str, func, help_text: str, plot: bool = True) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    _endpoint_args(p)
    _output_args(p, plot)
    p.set_defaults(func=func)
    return p


class _ModelIsPositional(argparse.Action):
    """``--model`` of earlier versions: an error that shows the one grammar."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"the model is the first argument, not an option: {parser.prog} {values} [options]")


def _model_command(sub, name: str, func, help_text: str, plot: bool = True) -> argparse.ArgumentParser:
    """A command of :data:`MODEL_COMMANDS`: the model first (a shipped id or a local model file)."""
    p = _command(sub, name, func, help_text, plot)
    default = MODEL_COMMANDS[name]
    p.add_argument("model", nargs="?", default=default, metavar="MODEL",
                   help=f"a shipped model id (bioxen models lists them) or a local model file: SBML, Antimony, "
                        f"or COBRA JSON / MATLAB converted with cobra (default: {default})")
    p.add_argument("--model", action=_ModelIsPositional, help=argparse.SUPPRESS)
    return p


def _change_args(p: argparse.ArgumentParser, medium: bool = True, knockouts: bool = True) -> None:
    """Changes to a metabolic model for one request (the model itself is not changed)."""
    p.add_argument("--objective", default=None, metavar="RXN", help="default: the model's")
    p.add_argument("--bound", action="append", metavar="RXN=LB,UB", help="flux bounds (mmol/gDW/h); repeatable")
    if medium:
        p.add_argument("--medium", action="append", metavar="EX_RXN=UPTAKE",
                       help="the medium: maximum uptake by exchange reaction; repeatable")
    if knockouts:
        p.add_argument("--knockout-genes", default=None, metavar="G1,G2")
        p.add_argument("--knockout-reactions", default=None, metavar="R1,R2")


def _time_args(p: argparse.ArgumentParser, end: float, points: int, unit: str = "") -> None:
    p.add_argument("--start", type=float, default=0.0, help=f"start time{unit}")
    p.add_argument("--end", type=float, default=end, help=f"end time{unit}")
    p.add_argument("--points", type=int, default=points, help="output time points, start and end included")


def _value_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--param", action="append", metavar="K=V", help="a parameter value; repeatable")
    p.add_argument("--initial", action="append", metavar="S=V", help="an initial species value; repeatable")


def _chunk_args(p: argparse.ArgumentParser, default: int, what: str) -> None:
    p.add_argument("--chunk-size", type=int, default=default,
                   help=f"{what} per request, fanned out over every endpoint")


def version() -> str:
    """The installed distribution's version (importlib.metadata, read only when asked)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("bioxen-vm")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without being installed
        from . import __version__

        return f"{__version__} (not installed)"


class _Version(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bioxen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action=_Version, help="show the installed version and exit")
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

    p = _command(sub, "models", _models, "the shipped models of both services; with an ID, its reactions and "
                 "genes (static) or species, parameters and reactions (dynamic)", plot=False)
    p.add_argument("id", nargs="?", default=None, metavar="ID")
    p.add_argument("--service", choices=["static", "dynamic"], default=None, help="default: both")

    p = _model_command(sub, "fba", _fba, "flux-balance analysis on the static service")
    _change_args(p)
    p.add_argument("--pfba", action="store_true", help="parsimonious FBA")
    p.add_argument("--top", type=int, default=20, help="show the N largest fluxes (0: all)")

    p = _model_command(sub, "fva", _fva, "flux variability analysis (chunked over all endpoints)")
    _change_args(p)
    p.add_argument("--reactions", default=None, metavar="R1,R2", help="default: every reaction")
    p.add_argument("--fraction", type=float, default=1.0, help="fraction of the optimum")
    p.add_argument("--loopless", action="store_true")
    _chunk_args(p, FVA_CHUNK, "reactions")

    p = _model_command(sub, "knockouts", _knockouts, "single-deletion growth (chunked over all endpoints)")
    _change_args(p, knockouts=False)
    p.add_argument("--genes", default=None, metavar="G1,G2|all")
    p.add_argument("--reactions", default=None, metavar="R1,R2|all")
    _chunk_args(p, KNOCKOUT_CHUNK, "deletions")

    p = _model_command(sub, "dfba", _dfba, "dynamic FBA of a batch culture on the static service")
    _change_args(p, medium=False, knockouts=False)
    p.add_argument("--biomass", type=float, default=0.05, help="initial biomass (gDW/L)")
    p.add_argument("--conc", action="append", metavar="EX_RXN=mM", help="initial concentrations")
    p.add_argument("--uptake", action="append", metavar="EX_RXN=VMAX,KM", help="Michaelis-Menten uptake")
    _time_args(p, end=10.0, points=101, unit=" (h)")
    p.add_argument("--rows", type=int, default=11, help="table rows shown")

    p = _model_command(sub, "simulate", _simulate, "time-course simulation on the dynamic service")
    _time_args(p, end=10.0, points=100)
    _value_args(p)
    p.add_argument("--select", default=None, metavar="S1,S2", help="what to report (default: every species)")
    p.add_argument("--integrator", choices=["cvode", "gillespie"], default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--rows", type=int, default=11, help="table rows shown")

    p = _model_command(sub, "scan", _scan, "parameter scan (grid chunked over all endpoints)")
    p.add_argument("--grid", action="append", metavar="PARAM=v1,v2,...")
    _time_args(p, end=10.0, points=100)
    _value_args(p)
    p.add_argument("--select", default=None, metavar="S1,S2", help="what to report (default: every species)")
    _chunk_args(p, SCAN_CHUNK, "grid points")

    p = _model_command(sub, "steady-state", _steady_state, "steady state on the dynamic service: species "
                       "values and reaction rates", plot=False)
    _value_args(p)

    p = _command(sub, "omex", _omex, "run a COMBINE archive's SED-ML experiment (reports.h5, CSVs, plots)",
                 plot=False)
    p.add_argument("archive", metavar="FILE.omex")
    p.add_argument("--out", default=".", metavar="DIR", help="folder for reports.h5, <sedml>/<report>.csv, "
                   "<sedml>/<plot>.png and answer.json (default: here)")
    p.add_argument("--service", choices=["static", "dynamic"], default=None,
                   help="default: static for flux-balance algorithms (KiSAO 0000437 family), else dynamic")
    p.add_argument("--seed", type=int, default=None, help="seed of stochastic tasks that name none")

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
        status = args.func(args)
        sys.stdout.flush()  # here, so a reader that went away (| head) is noticed inside the try
        return status
    except BrokenPipeError:
        return _closed_pipe()
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


def _closed_pipe() -> int:
    """Whoever read stdout stopped (``bioxen fva | head -3``): no traceback, and exit 1, Python's own
    convention. What is left in stdout's buffer goes to /dev/null, so the flush at exit cannot fail again
    (the recipe of the Python documentation, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 1


if __name__ == "__main__":
    sys.exit(main())
