"""Rows measured against one single-worker replica of each service, one client, sequential requests:
each row times the service call and the issue's in-process reference of the same work, interleaved.

The service side is the VM client's own request path (``BiologicalComputationClient.request`` over its
default ``http.client`` transport: what a VM pays per call, over a kept-alive connection to the
waitress front; the diagnostics measure that floor, also through a ``requests.Session`` for comparison). The in-process side is what a user with the
engine in their own process would write.
"""

from __future__ import annotations

import logging
import math
import re
import socket

import numpy as np
import requests

import launch
from timing import Row, paired, samples, stats, timed

log = logging.getLogger("bench.single")

METABOLIC = launch.ROOT / "bytecode" / "metabolic"
KINETIC = launch.ROOT / "bytecode" / "kinetic"
GLUCOSE_BOUND = {"EX_glc__D_e": (-5.0, 1000.0)}


class Http:
    """POST JSON through the VM client (a non-2xx answer raises with the service's message); GET text
    and the floor diagnostics on a ``requests.Session``."""

    def __init__(self, url: str, service: str):
        from bioxen_vm.client import BiologicalComputationClient

        self.url = url
        self.service = service
        self.client = BiologicalComputationClient(url, url, timeout=600, retries=0)
        self.session = requests.Session()

    def post(self, path: str, body: dict) -> dict:
        return self.client.request(self.service, "POST", path, body)

    def get_text(self, path: str) -> str:
        return self.session.get(self.url + path, timeout=60).text


def load_cobra(model_id: str):
    import cobra
    from cobra.io import read_sbml_model

    config = cobra.Configuration()
    config.processes = 1
    config.solver = "glpk"
    model = read_sbml_model(str(METABOLIC / f"{model_id}.xml"))
    model.solver = "glpk"
    model.slim_optimize()
    return model


def load_roadrunner(program: str):
    import roadrunner

    if program == "gene_expression":
        import antimony

        antimony.clearPreviousLoads()
        if antimony.loadAntimonyString((KINETIC / "gene_expression.ant").read_text()) < 0:
            raise RuntimeError(antimony.getLastError())
        rr = roadrunner.RoadRunner(antimony.getSBMLString(antimony.getMainModuleName()))
    else:
        rr = roadrunner.RoadRunner((KINETIC / "BIOMD0000000012.xml").read_text())
    rr.simulate(0, 1, 2)
    return rr


def close(a: float | None, b: float | None, rel: float = 1e-6) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def ratio_row(row: Row, service_times: list[float], reference_times: list[float]) -> Row:
    row.service, row.reference_stats = stats(service_times), stats(reference_times)
    row.value = row.service["median"] / row.reference_stats["median"]
    return row.decide()


# -- FBA ---------------------------------------------------------------------------------------------
def fba_row(http: Http, model_id: str, target: float, reps: int) -> Row:
    model = load_cobra(model_id)
    (rid, bounds), = GLUCOSE_BOUND.items()
    body = {"model": {"id": model_id}, "bounds": {rid: list(bounds)}}

    def inprocess():
        with model:
            model.reactions.get_by_id(rid).bounds = bounds
            solution = model.optimize()
            return solution.objective_value, solution.fluxes.to_dict()

    def service():
        return http.post("/v1/fba", body)

    s_times, r_times = paired(service, inprocess, reps, warmup=max(10, reps // 10))
    row = ratio_row(Row(f"fba_{model_id}", f"{model_id} FBA, one bound change ({rid} {bounds})",
                        "cached model, with model: bound change, optimize(), fluxes to a dict",
                        "ratio_max", target), s_times, r_times)
    answer, (value, fluxes) = service(), inprocess()
    row.extra["objective_service"], row.extra["objective_inprocess"] = answer["objective_value"], value
    row.extra["fluxes"] = len(answer["fluxes"])
    if not close(answer["objective_value"], value) or set(answer["fluxes"]) != set(fluxes):
        row.notes.append("service and in-process answers differ")
    return row


# -- simulations ---------------------------------------------------------------------------------------
def simulate_row(http: Http, program: str, end: float, points: int, target: float, reps: int) -> Row:
    rr = load_roadrunner(program)
    selections = ["time", *(f"[{s}]" for s in rr.model.getFloatingSpeciesIds())]
    body = {"model": {"id": program}, "start": 0, "end": end, "points": points}

    def inprocess():
        rr.resetAll()
        return rr.simulate(0, end, points, selections)

    def service():
        return http.post("/v1/simulate", body)

    s_times, r_times = paired(service, inprocess, reps, warmup=max(10, reps // 10))
    row = ratio_row(Row(f"simulate_{program}_{points}", f"{program}, simulate(0, {end}, {points})",
                        "cached RoadRunner, resetAll(), simulate()", "ratio_max", target), s_times, r_times)
    answer, data = service(), inprocess()
    last_service = [answer["trajectories"][s][-1] for s in rr.model.getFloatingSpeciesIds()]
    if not all(close(a, float(b)) for a, b in zip(last_service, data[-1, 1:])):
        row.notes.append("service and in-process final states differ")
    return row


def scan_row(http: Http, n: int, reps: int) -> Row:
    rr = load_roadrunner("gene_expression")
    species = list(rr.model.getFloatingSpeciesIds())
    selections = ["time", *(f"[{s}]" for s in species)]
    values = np.linspace(0.01, 1.0, n).tolist()
    body = {"model": {"id": "gene_expression"}, "end": 10, "points": 100,
            "grid": {"k_transcription": values}, "output": "final"}

    def inprocess():
        finals = {s: [] for s in species}
        for v in values:
            rr.resetAll()
            rr["k_transcription"] = v
            last = rr.simulate(0, 10, 100, selections)[-1]
            for i, s in enumerate(species):
                finals[s].append(float(last[i + 1]))
        return finals

    def service():
        return http.post("/v1/scan", body)

    s_times, r_times = paired(service, inprocess, reps, warmup=1)
    row = ratio_row(Row(f"scan_gene_expression_{n}", f"{n}-point scan of k_transcription, one request, "
                        "simulate(0, 10, 100) per point, final values",
                        "a loop over the cached RoadRunner (resetAll, set, simulate)", "ratio_max", 1.5),
                    s_times, r_times)
    answer, finals = service(), inprocess()
    if not all(close(a, b) for s in species for a, b in zip(answer["final"][s], finals[s])):
        row.notes.append("service and in-process scan values differ")
    return row


# -- batches -----------------------------------------------------------------------------------------
def knockout_row(http: Http, reps: int) -> Row:
    from cobra.flux_analysis import single_gene_deletion

    model = load_cobra("e_coli_core")
    body = {"model": {"id": "e_coli_core"}, "genes": "all"}

    def inprocess():
        return single_gene_deletion(model, processes=1)

    def service():
        return http.post("/v1/knockouts", body)

    s_times, r_times = paired(service, inprocess, reps, warmup=1)
    n = len(model.genes)
    row = ratio_row(Row(f"knockouts_e_coli_core_{n}", f"{n} single-gene deletions of e_coli_core, one request",
                        "cobra.flux_analysis.single_gene_deletion(model, processes=1)", "ratio_max", 1.5),
                    s_times, r_times)
    answer, frame = service(), inprocess()
    reference = {next(iter(ids)): growth for ids, growth in zip(frame["ids"], frame["growth"])}
    differ = [r["id"] for r in answer["results"]
              if not close(r["growth"] or 0.0, 0.0 if math.isnan(reference[r["id"]]) else reference[r["id"]])]
    if len(answer["results"]) != n or differ:
        row.notes.append(f"growth differs from single_gene_deletion for {differ[:5]}")
    return row


def dfba_row(http: Http, reps: int) -> Row | None:
    try:
        from bioxen_services.static.dfba import DfbaProblem, run_dfba
        from bioxen_services.static.dfba_uptake import Uptake
    except ImportError:
        return None
    model = load_cobra("e_coli_core")
    end = 10.0
    body = {"model": {"id": "e_coli_core"}, "biomass": 0.05, "concentrations": {"EX_glc__D_e": 10, "EX_ac_e": 0},
            "uptake": {"EX_glc__D_e": {"vmax": 10, "km": 0.015}}, "end": end, "points": 101}

    def inprocess():
        problem = DfbaProblem(biomass=0.05, concentrations={"EX_glc__D_e": 10.0, "EX_ac_e": 0.0}, end=end,
                              points=101, uptake={"EX_glc__D_e": Uptake(vmax=10.0, km=0.015)})
        return run_dfba(model, problem)

    def service():
        return http.post("/v1/dfba", body)

    s_times, r_times = paired(service, inprocess, reps, warmup=1)
    row = ratio_row(Row("dfba_e_coli_core_10h", "dFBA of e_coli_core, 10 h batch on glucose, 101 points (issue 7)",
                        "run_dfba() of the service's engine on a cached model, in-process", "ratio_max", 1.5),
                    s_times, r_times)
    row.notes.append("target 1.5 chosen here (issue 7 asks for the row, not a number), as for the other "
                     "one-request batch rows")
    row.extra["seconds_per_simulated_hour"] = {"service": row.service["median"] / end,
                                               "inprocess": row.reference_stats["median"] / end}
    answer, result = service(), inprocess()
    if not close(answer["biomass"][-1], result["biomass"][-1]):
        row.notes.append("service and in-process final biomass differ")
    return row


# -- inline (uploaded) genome-scale model, through the VM client --------------------------------------
def cache_counts(http: Http) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in http.get_text("/metrics").splitlines():
        m = re.match(r'bioxen_model_cache_(hits|misses)_total\{.*source="(\w+)".*\} (\S+)', line)
        if m:
            counts[f"{m.group(1)}_{m.group(2)}"] = counts.get(f"{m.group(1)}_{m.group(2)}", 0) + float(m.group(3))
    return counts


def inline_row(http: Http, reps: int) -> Row:
    row = Row("fba_inline_iMM904", "repeated FBA of a genome-scale model uploaded inline once (iMM904 text "
              "under another id), through the VM client", "the same model by registry id, through the client",
              "ratio_max", 1.2)
    try:
        from bioxen_vm.client import BiologicalComputationClient
    except ImportError as exc:
        row.notes.append(f"pending: the VM client is not importable yet ({exc})")
        return row
    text = (METABOLIC / "iMM904.xml").read_text().replace('id="iMM904"', 'id="iMM904_uploaded"', 1)
    bounds = dict(GLUCOSE_BOUND)
    with BiologicalComputationClient(static_service_url=http.url, timeout=600) as client:
        before = cache_counts(http)
        upload_seconds, first = timed(lambda: client.fba({"sbml": text}, bounds=bounds))
        s_times, r_times = paired(lambda: client.fba({"sbml": text}, bounds=bounds),
                                  lambda: client.fba("iMM904", bounds=bounds), reps, warmup=5)
        by_id = client.fba("iMM904", bounds=bounds)
        after = cache_counts(http)
    ratio_row(row, s_times, r_times)
    row.extra.update(first_call_seconds=upload_seconds, text_bytes=len(text.encode()),
                     cache_before=before, cache_after=after)
    misses = after.get("misses_inline", 0) - before.get("misses_inline", 0)
    row.notes.append(f"first call (sha256 miss, text sent, parsed): {upload_seconds:.2f} s; inline parses "
                     f"during the row: {misses:g}; sha256 hits: "
                     f"{after.get('hits_sha256', 0) - before.get('hits_sha256', 0):g}")
    if misses != 1:
        row.notes.append("the text was parsed more than once")
    if not close(first["objective_value"], by_id["objective_value"]):
        row.notes.append("inline and registry answers differ")
    return row


# -- the HTTP floor ------------------------------------------------------------------------------------
def http_floor(http: Http, host: str, port: int, reps: int) -> dict:
    """What one request costs before any computation: /healthz through the session, and over a bare socket."""
    def bare():
        with socket.create_connection((host, port)) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            while sock.recv(65536):
                pass

    resp = http.session.get(http.url + "/healthz")
    transport = http.client.transport
    return {"connection_header": resp.headers.get("Connection"),
            "healthz_client_median_s": stats(samples(lambda: transport.request("GET", http.url + "/healthz"),
                                                     reps, 20))["median"],
            "healthz_session_median_s": stats(samples(lambda: http.session.get(http.url + "/healthz"),
                                                      reps, 20))["median"],
            "healthz_bare_socket_median_s": stats(samples(bare, reps, 20))["median"]}


def latency_rows(quick: bool = False) -> tuple[list[Row], dict]:
    reps = 60 if quick else 300
    batch_reps = 3 if quick else 7
    rows: list[Row] = []
    diag: dict = {}
    with launch.services({"service": "static", "host": "127.0.0.2"},
                         {"service": "dynamic", "host": "127.0.0.2"}) as (static, dynamic):
        s_http, d_http = Http(static.url, "static"), Http(dynamic.url, "dynamic")
        diag["http_floor_static"] = http_floor(s_http, static.host, static.port, reps)
        rows.append(fba_row(s_http, "e_coli_core", 1.5, reps))
        rows.append(fba_row(s_http, "iMM904", 1.2, max(30, reps // 3)))
        rows.append(simulate_row(d_http, "gene_expression", 10, 100, 2.0, reps))
        rows.append(simulate_row(d_http, "repressilator", 1000, 1000, 1.5, reps))
        rows.append(knockout_row(s_http, batch_reps))
        rows.append(scan_row(d_http, 200 if quick else 1000, batch_reps))
        dfba = dfba_row(s_http, batch_reps)
        if dfba is not None:
            rows.append(dfba)
        rows.append(inline_row(s_http, max(20, reps // 5)))
    for row in rows:
        log.info("%s: %s %s", row.id, row.value, row.status)
    return rows, diag


# -- request validation (issue 13) -----------------------------------------------------------------
def validation_rows(quick: bool = False) -> tuple[list[Row], dict]:
    """What validating a body against its declaration costs on the front, against the smallest
    computation it guards (e_coli_core FBA in-process, as the fba row's reference: optimize() and the
    fluxes): every operation's documented example (target: under 5% of it), and, reported, an FBA body
    that changes the bounds of all 95 reactions of e_coli_core."""
    from bioxen_services.app import operations

    reps = 2000 if quick else 20000
    model = load_cobra("e_coli_core")
    fba_seconds = stats(samples(lambda: model.optimize().fluxes.to_dict(), 200 if quick else 1000,
                                warmup=20))["median"]
    bodies = [(f"{service}{op.path}", op.request, op.example) for service in ("static", "dynamic")
              for op in operations(service) if op.request is not None]
    bodies.append(("static/v1/fba (95 bounds)", *next((op.request, {
        "model": {"id": "e_coli_core"}, "bounds": {r.id: [-5, 1000] for r in model.reactions}})
        for op in operations("static") if op.path == "/v1/fba")))
    rows = []
    for name, schema, body in bodies:
        times = samples(lambda: schema.parse(body), reps, warmup=100)
        row = Row(f"validate {name}", f"{schema.__name__}.parse of {'the documented example' if '95' not in name else 'it'}",
                  "e_coli_core FBA in-process: optimize(), fluxes to a dict", *(
                      ("report", None) if "95" in name else ("ratio_max", 0.05)))
        row.service, row.reference_stats = stats(times), {"n": 1, "median": fba_seconds}
        row.value = row.service["median"] / fba_seconds
        rows.append(row.decide())
    return rows, {}
