"""The SBML Test Suite's semantic cases, run through the services and through the engines in-process,
judged by the suite's own rule (``../shared/sbml-test-suite/README.md``).

Used by ``test_conformance.py`` and by ``scripts/conformance_report.py`` (``docs/conformance.md``).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT.parent / "shared" / "sbml-test-suite"
SEMANTIC = SUITE / "semantic"
STOCHASTIC = SUITE / "stochastic"
BASELINE = Path(__file__).with_name("baseline.json")

#: the integrator tolerances both sides run with (the suite's own judging tolerances are much looser)
ABSOLUTE_TOLERANCE = 1e-12
RELATIVE_TOLERANCE = 1e-8


@dataclass
class Case:
    id: str
    folder: Path
    test_type: str
    component_tags: list[str]
    test_tags: list[str]
    settings: dict[str, str]
    sbml: Path
    files: dict[str, str] = field(default_factory=dict)

    def values(self, key: str) -> list[str]:
        return [v.strip() for v in self.settings.get(key, "").split(",") if v.strip()]

    @property
    def variables(self) -> list[str]:
        return self.values("variables")

    @property
    def concentrations(self) -> set[str]:
        return set(self.values("concentration"))

    def number(self, key: str, default: float = 0.0) -> float:
        raw = self.settings.get(key, "").strip()
        return float(raw) if raw else default

    def expected(self) -> tuple[list[str], np.ndarray]:
        path = self.folder / f"{self.id}-results.csv"
        lines = path.read_text().strip().splitlines()
        header = [h.strip() for h in lines[0].split(",")]
        rows = [[_float(x) for x in line.split(",")] for line in lines[1:]]
        return header, np.array(rows, dtype=float)


def _float(text: str) -> float:
    text = text.strip()
    low = text.lower()
    if low in ("inf", "infinity", "+inf"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    if low == "nan":
        return math.nan
    return float(text)


def _tags(text: str, key: str) -> list[str]:
    match = re.search(rf"^{key}:\s*(.*)$", text, re.MULTILINE)
    return [t.strip() for t in match.group(1).split(",") if t.strip()] if match else []


def load_case(folder: Path) -> Case:
    cid = folder.name
    synopsis = (folder / f"{cid}-model.m").read_text(errors="replace")
    settings = {}
    for line in (folder / f"{cid}-settings.txt").read_text().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            settings[key.strip()] = value.strip()
    sbml = sorted(folder.glob(f"{cid}-sbml-l*.xml"))[-1]  # one SBML file of the case is kept
    files = {p.name: p.read_text() for p in folder.glob("*.xml") if not p.name.startswith(cid)}
    test_type = (_tags(synopsis, "testType") or ["TimeCourse"])[0]
    return Case(cid, folder, test_type, _tags(synopsis, "componentTags"), _tags(synopsis, "testTags"),
                settings, sbml, files)


def cases(root: Path = SEMANTIC) -> list[Case]:
    return [load_case(folder) for folder in sorted(root.iterdir()) if folder.is_dir()]


# -- judging ---------------------------------------------------------------------------------------
@dataclass
class Outcome:
    passed: bool
    reason: str = ""  # why it did not pass: the engine's or the service's words, or the worst point

    def as_dict(self) -> dict:
        return {"passed": self.passed, "reason": self.reason}


def judge(case: Case, columns: dict[str, list], non_finite_as_null: bool = False) -> Outcome:
    """The suite's rule: at every point |expected - got| <= absolute + relative * |expected|.
    ``non_finite_as_null``: JSON carries infinities and NaN as null; a null matches any non-finite
    expected value."""
    header, expected = case.expected()
    absolute, relative = case.number("absolute"), case.number("relative")
    for k, name in enumerate(header):
        if name.lower() == "time" and k == 0:
            continue
        if columns.get(name) is None:
            return Outcome(False, f"no values for {name!r}")
        got = np.array([math.nan if v is None else v for v in columns[name]], dtype=float)
        want = expected[:, k]
        if got.shape != want.shape:
            return Outcome(False, f"{name!r}: {got.size} points, the suite has {want.size}")
        finite = np.isfinite(want)
        if non_finite_as_null:
            same = ~np.isfinite(got) & ~finite
        else:
            same = (got == want) | (np.isnan(got) & np.isnan(want))
        close = np.abs(want - got) <= absolute + relative * np.abs(want)
        bad = ~np.where(finite, close & np.isfinite(got), same)
        if bad.any():
            i = int(np.argmax(bad))
            return Outcome(False, f"{name!r} at point {i}: expected {want[i]:.6g}, got {got[i]:.6g}")
    return Outcome(True)


# -- in-process engines ----------------------------------------------------------------------------
def _roadrunner_selection(case: Case, rr, name: str) -> str:
    species = {*rr.model.getFloatingSpeciesIds(), *rr.model.getBoundarySpeciesIds()}
    return f"[{name}]" if name in species and name in case.concentrations else name


def run_engine(case: Case) -> Outcome:
    """libRoadRunner on the case's file, as a user would call it in their own process."""
    import roadrunner

    # a model id such as ``reset`` would otherwise remove RoadRunner.reset in this (the test) process
    roadrunner.Config.setValue(roadrunner.Config.ROADRUNNER_DISABLE_PYTHON_DYNAMIC_PROPERTIES, True)
    if case.test_type == "FluxBalanceSteadyState":
        return run_cobra(case)
    try:
        rr = roadrunner.RoadRunner(str(case.sbml))
        rr.integrator.absolute_tolerance = ABSOLUTE_TOLERANCE
        rr.integrator.relative_tolerance = RELATIVE_TOLERANCE
        selections = ["time", *(_roadrunner_selection(case, rr, v) for v in case.variables)]
        start = case.number("start")
        data = rr.simulate(start, start + case.number("duration"), int(case.number("steps")) + 1, selections)
    except Exception as exc:  # the engine's own limit (algebraic rules, delay, ...) or failure
        return Outcome(False, _first_line(exc))
    return judge(case, {v: data[:, i + 1] for i, v in enumerate(case.variables)})


def run_cobra(case: Case) -> Outcome:
    import cobra

    try:
        model = cobra.io.read_sbml_model(str(case.sbml))
        model.solver = "glpk"
        solution = model.optimize()
    except Exception as exc:
        return Outcome(False, _first_line(exc))
    columns = {v: [solution.fluxes[v] if v in model.reactions else solution.objective_value]
               for v in case.variables}
    return judge(case, columns)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


# -- through the services --------------------------------------------------------------------------
def simulate_body(case: Case) -> dict:
    """The /v1/simulate request for a case: bare ids are amounts unless the case lists them as
    concentrations (``[S]``)."""
    model = {"sbml": case.sbml.read_text()}
    if case.files:
        model["files"] = case.files
    start = case.number("start")
    return {"model": model, "start": start, "end": start + case.number("duration"),
            "points": int(case.number("steps")) + 1, "species_values": "amounts",
            "selections": [f"[{v}]" if v in case.concentrations else v for v in case.variables],
            "absolute_tolerance": ABSOLUTE_TOLERANCE, "relative_tolerance": RELATIVE_TOLERANCE}


_local = threading.local()


def _session() -> requests.Session:
    if getattr(_local, "session", None) is None:
        _local.session = requests.Session()
    return _local.session


def run_service(case: Case, dynamic_url: str, static_url: str | None) -> Outcome:
    session = _session()
    if case.test_type == "FluxBalanceSteadyState":
        if static_url is None:
            return Outcome(False, "no static service")
        body = {"model": {"sbml": case.sbml.read_text()}}
        r = session.post(static_url + "/v1/fba", json=body, timeout=120)
        if r.status_code != 200:
            return Outcome(False, _error(r))
        answer = r.json()
        fluxes = answer.get("fluxes") or {}
        columns = {v: [fluxes[v] if v in fluxes else answer.get("objective_value")] for v in case.variables}
        return judge(case, columns, non_finite_as_null=True)
    r = session.post(dynamic_url + "/v1/simulate", json=simulate_body(case), timeout=120)
    if r.status_code != 200:
        return Outcome(False, _error(r))
    answer = r.json()
    columns = {"time": answer["time"], **answer["trajectories"]}  # a model may have an id 'time'

    return judge(case, {v: columns.get(s) for v, s in zip(case.variables, simulate_body(case)["selections"])},
                 non_finite_as_null=True)


def _error(r: requests.Response) -> str:
    try:
        error = r.json()["error"]
        return f"{r.status_code} {error['code']}: {error['message'][:200]}"
    except (ValueError, KeyError, TypeError):
        return f"{r.status_code}: {r.text[:200]}"


def run_all(all_cases: list[Case], dynamic_url: str, static_url: str | None, threads: int = 3) -> dict:
    """Every case through the services (a small thread pool) and in-process (this thread, meanwhile).
    Returns ``{case id: {"service": outcome, "engine": outcome}}``."""
    results: dict[str, dict] = {}
    with ThreadPoolExecutor(threads) as pool:
        futures = {c.id: pool.submit(run_service, c, dynamic_url, static_url) for c in all_cases}
        for c in all_cases:
            results[c.id] = {"engine": run_engine(c)}
        for c in all_cases:
            try:
                results[c.id]["service"] = futures[c.id].result()
            except Exception as exc:  # a broken answer is a failed case, not a broken run
                results[c.id]["service"] = Outcome(False, f"{type(exc).__name__}: {exc}"[:200])
    return results


def load_baseline() -> set[str]:
    return set(json.loads(BASELINE.read_text())["service_passes"]) if BASELINE.exists() else set()


def save_baseline(results: dict) -> None:
    passes = sorted(cid for cid, r in results.items() if r["service"].passed)
    BASELINE.write_text(json.dumps({"about": "semantic cases of ../shared/sbml-test-suite that passed "
                                             "through the services; a case listed here must keep passing",
                                    "service_passes": passes}, indent=0) + "\n")


# -- stochastic (DSMTS) cases ----------------------------------------------------------------------
def ensemble_body(case: Case, repetitions: int, seed: int) -> dict:
    start = case.number("start")
    return {"model": {"sbml": case.sbml.read_text()}, "integrator": "gillespie", "repetitions": repetitions,
            "seed": seed, "start": start, "end": start + case.number("duration"),
            "points": int(case.number("steps")) + 1, "species_values": "amounts",
            "selections": [f"[{v}]" if v in case.concentrations else v for v in case.variables]}


def _range(text: str, default: tuple[float, float]) -> tuple[float, float]:
    numbers = re.findall(r"-?\d+(?:\.\d+)?", text or "")
    return (float(numbers[0]), float(numbers[1])) if len(numbers) == 2 else default


def statistics(case: Case) -> list[str]:
    """What the suite gives a mean (and sd) of: variables, or functions of them such as ``ln(X)``."""
    header = case.expected()[0]
    return [h[: -len("-mean")] for h in header if h.endswith("-mean")]


def judge_ensemble(case: Case, mean: dict[str, list], sd: dict[str, list], n: int) -> tuple[Outcome, int]:
    """The suite's stochastic rule: Z_t = sqrt(n)(m_t - mu_t)/sigma_t within meanRange and
    Y_t = sqrt(n/2)(s_t^2/sigma_t^2 - 1) within sdRange at each point; points with sigma_t = 0 exactly.
    A correct simulator lands outside now and then by chance: the case passes with at most
    ``max(2, 2%)`` of the statistics outside ("a few points in a few hundred"). Returns the outcome and the number outside."""
    header, expected = case.expected()
    mean_range = _range(case.settings.get("meanRange", ""), (-3, 3))
    sd_range = _range(case.settings.get("sdRange", ""), (-5, 5))
    outside, checked, worst = 0, 0, ""
    for name in statistics(case):
        if f"{name}-sd" not in header:
            return Outcome(False, f"not judged: the suite gives no sd for {name} (a Cauchy distribution has "
                                  "none; its 'mean' is the median)"), 0
        mu = expected[:, header.index(f"{name}-mean")]
        sigma = expected[:, header.index(f"{name}-sd")]
        m = np.array(mean[name], dtype=float)
        s = np.array(sd[name], dtype=float)
        exact = sigma == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.sqrt(n) * (m - mu) / sigma
            y = np.sqrt(n / 2) * (s**2 / sigma**2 - 1)
        bad_exact = exact & ((np.abs(m - mu) > 1e-9 * np.maximum(1, np.abs(mu))) | (s > 1e-9))
        bad_z = ~exact & ~((z >= mean_range[0]) & (z <= mean_range[1]))
        bad_y = ~exact & ~((y >= sd_range[0]) & (y <= sd_range[1]))
        if bad_exact.any():
            i = int(np.argmax(bad_exact))
            return Outcome(False, f"{name!r} at point {i}: expected exactly {mu[i]:g}, got mean {m[i]:g} "
                                  f"sd {s[i]:g}"), int(bad_exact.sum())
        outside += int(bad_z.sum() + bad_y.sum())
        checked += 2 * int((~exact).sum())
        if (bad_z | bad_y).any() and not worst:
            i = int(np.argmax(bad_z | bad_y))
            worst = f"{name!r} at point {i}: Z {z[i]:.2f}, Y {y[i]:.2f}"
    allowed = max(2, checked // 50)
    if outside > allowed:
        return Outcome(False, f"{outside} of {checked} statistics outside the ranges (allowed {allowed}); "
                              f"first: {worst}"), outside
    return Outcome(True), outside


def stochastic_integrator(case: Case) -> str:
    """DSMTS time courses run Gillespie; distrib cases (random functions at events) run CVODE."""
    return "cvode" if case.test_type == "StatisticalDistribution" else "gillespie"


def run_ensemble_service(case: Case, url: str, seed: int = 1, seconds: float = 1.5,
                         most: int = 1000, fewest: int = 100,
                         probe: int = 20) -> tuple[Outcome, int, dict | None]:
    """A case through ``POST /v1/simulate`` with repetitions: a probe of ``probe`` runs says how many
    fit in about ``seconds`` (between ``fewest`` and ``most``); those are judged. Returns the outcome,
    the number of runs and the probe's answer (for an exact comparison with the engine in-process)."""
    session = _session()
    body = {**ensemble_body(case, probe, seed), "integrator": stochastic_integrator(case)}
    r = session.post(url + "/v1/simulate", json={**body, "repetitions": 2}, timeout=300)  # compiles it
    if r.status_code != 200:
        return Outcome(False, _error(r)), 2, None
    started = time.perf_counter()
    r = session.post(url + "/v1/simulate", json=body, timeout=300)
    if r.status_code != 200:
        return Outcome(False, _error(r)), probe, None
    first = r.json()
    per_run = (time.perf_counter() - started) / probe
    n = max(fewest, min(most, int(seconds / max(per_run, 1e-6))))
    logs = [s for s in statistics(case) if s.startswith("ln(")]
    r = session.post(url + "/v1/simulate", json={**body, "repetitions": n, "return_runs": bool(logs)},
                     timeout=300)
    if r.status_code != 200:
        return Outcome(False, _error(r)), n, first
    answer = r.json()
    mean, sd = dict(answer["mean"]), dict(answer["sd"])
    for name in logs:  # the suite's statistic of ln(X): from every run
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.log(np.array([run[name[3:-1]] for run in answer["runs"]], dtype=float))
        mean[name], sd[name] = values.mean(axis=0), values.std(axis=0, ddof=1)
    return judge_ensemble(case, mean, sd, n)[0], n, first


def engine_ensemble(case: Case, repetitions: int, seed: int) -> tuple[dict, dict]:
    """The mean and sd of ``repetitions`` libRoadRunner runs in-process, run i seeded ``seed + i``."""
    import roadrunner

    body = ensemble_body(case, repetitions, seed)
    rr = roadrunner.RoadRunner(str(case.sbml))
    integrator = stochastic_integrator(case)
    if integrator == "gillespie":
        rr.setIntegrator("gillespie")
    runs = []
    for i in range(repetitions):
        rr.resetAll()
        if integrator == "gillespie":
            rr.integrator.seed = seed + i
            rr.integrator.variable_step_size = False
        else:
            rr.setSeed(seed + i)
        selections = ["time", *(_roadrunner_selection(case, rr, v) for v in case.variables)]
        runs.append(rr.simulate(body["start"], body["end"], body["points"], selections)[:, 1:])
    data = np.array(runs)
    mean, sd = data.mean(axis=0), data.std(axis=0, ddof=1)
    return ({v: mean[:, k] for k, v in enumerate(case.variables)},
            {v: sd[:, k] for k, v in enumerate(case.variables)})
