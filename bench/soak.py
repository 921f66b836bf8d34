"""Soak test (issue 6, ``make soak``): many concurrent VMs against both real services for a bounded time,
with valid and bad requests mixed. Not part of ``make test``.

Each VM is a thread with its own HTTP session and its own ``bioxen_vm`` VM (phase-1 process codes go
through the real client and hypervisor). Every valid answer is compared with the value the in-process
engine computes; every bad request must get a 4xx. Figures: requests, errors, 5xx on valid requests
(must be 0), wrong values (must be 0), latency p50/p99, worker RSS at start, over time and at the end,
engine pids (a crashed or killed engine would be replaced by the front). Written to ``bench/soak.json`` and to the
"Soak" section of ``bench/RESULTS.md`` (other sections are left alone).

    python bench/soak.py [--seconds 180] [--vms 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import platform
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from launch import ROOT, rss_bytes, services, engine_pids  # also puts tests/ on sys.path

from support import BYTECODE, glucose_growth  # noqa: E402

log = logging.getLogger("bioxen.soak")
OUT_JSON = ROOT / "bench" / "soak.json"
RESULTS = ROOT / "bench" / "RESULTS.md"
GLUCOSE = [-2.0, -4.0, -6.0, -8.0, -10.0]
TIME_ENDS = [5.0, 10.0, 20.0]
FVA_REACTIONS = ["PGI", "PFK", "FBA", "TPI", "GAPD", "PGK", "PGM", "ENO", "PYK", "PDH"]


# -- in-process references ------------------------------------------------------------------------------
def references() -> dict:
    import antimony
    import roadrunner

    growth = glucose_growth(GLUCOSE)
    antimony.clearPreviousLoads()
    antimony.loadAntimonyString((BYTECODE / "kinetic" / "gene_expression.ant").read_text())
    rr = roadrunner.RoadRunner(antimony.getSBMLString(antimony.getMainModuleName()))
    final = {}
    for end in TIME_ENDS:
        rr.resetAll()
        data = rr.simulate(0, end, 100, ["time", "[mRNA]", "[protein]"])
        final[end] = {"mRNA": float(data[-1, 1]), "protein": float(data[-1, 2])}
    return {"growth": growth, "final": final, "default_growth": growth[-10.0]}


def _close(a: float | None, b: float, rel: float = 1e-6) -> bool:
    return a is not None and abs(a - b) <= rel * max(1.0, abs(b))


# -- the request mix ------------------------------------------------------------------------------------
@dataclass
class Outcome:
    kind: str
    valid: bool
    status: int  # HTTP status, 0 for a transport failure, 200 for a VM computation that succeeded
    seconds: float
    wrong: bool = False


def _program(k: int) -> str:
    return f"model soak_{k}\n  J: S -> ; k*S\n  S = 10\n  k = {0.1 + k / 100}\nend\n"


ENTITY_BOMB = ('<?xml version="1.0"?><!DOCTYPE sbml [<!ENTITY a "aaaaaaaaaa">'
               + "".join(f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcdefgh", "bcdefghi"))
               + ']><sbml><model id="b" name="&i;"/></sbml>')
GZIP_BOMB = gzip.compress(b"0" * (80 * 1024 * 1024), 9)  # inflates past the 64 MB default limit

BAD = [  # (name, service, path, body bytes, extra headers)
    ("malformed_json", "static", "/v1/fba", b'{"model": ', {}),
    ("unknown_model", "static", "/v1/fba", b'{"model": {"id": "no_such_model"}}', {}),
    ("unknown_reaction", "static", "/v1/fva", b'{"model": {"id": "e_coli_core"}, "reactions": ["NOPE"]}', {}),
    ("lb_above_ub", "static", "/v1/fba", b'{"model": {"id": "e_coli_core"}, "bounds": {"PGI": [5, -5]}}', {}),
    ("nan", "static", "/v1/fba", b'{"model": {"id": "e_coli_core"}, "bounds": {"PGI": [NaN, 1]}}', {}),
    ("model_path", "static", "/compute/metabolic", b'{"model_path": "/etc/passwd"}', {}),
    ("entity_bomb", "static", "/v1/fba", json.dumps({"model": {"sbml": ENTITY_BOMB}}).encode(), {}),
    ("gzip_bomb", "dynamic", "/v1/simulate", GZIP_BOMB, {"Content-Encoding": "gzip"}),
    ("antimony_syntax", "dynamic", "/v1/simulate", b'{"model": {"antimony": "model m\\n S -> ; k*\\nend"}}', {}),
    ("antimony_import", "dynamic", "/compute/kinetic", b'{"kinetic_code": "import \\"/etc/passwd\\""}', {}),
    ("reversed_span", "dynamic", "/v1/simulate", b'{"model": {"id": "gene_expression"}, "start": 5, "end": 1}', {}),
    ("points_past_limit", "dynamic", "/v1/simulate", b'{"model": {"id": "gene_expression"}, "points": 100001}', {}),
    ("unknown_species", "dynamic", "/v1/simulate",
     b'{"model": {"id": "gene_expression"}, "initial_conditions": {"nope": 1}}', {}),
    ("deep_json", "dynamic", "/v1/scan", b'{"model": ' + b"[" * 5000 + b"]" * 5000 + b"}", {}),
]


class VM(threading.Thread):
    def __init__(self, n: int, urls: dict[str, str], deadline: float, refs: dict, seed: int):
        super().__init__(name=f"soak_vm_{n}", daemon=True)
        from bioxen_vm import BiologicalComputationClient
        from bioxen_vm.vm import BasicBiologicalVM

        self.urls = urls
        self.deadline = deadline
        self.refs = refs
        self.rng = random.Random(seed)
        self.session = requests.Session()
        self.client = BiologicalComputationClient(urls["static"], urls["dynamic"], timeout=(5.0, 120.0))
        self.vm = BasicBiologicalVM(f"soak_vm_{n}", "ecoli", {"strict": True}, client=self.client)
        self.vm.start()
        self.outcomes: list[Outcome] = []
        self.failures: list[str] = []

    # each valid request: (kind, function returning (status, wrong))
    def _post(self, service: str, path: str, body: dict) -> tuple[int, dict | None]:
        resp = self.session.post(self.urls[service] + path, json=body, timeout=120)
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None

    def vm_metabolic(self):
        lb = self.rng.choice(GLUCOSE)
        result = self.vm.execute_biological_process(
            "metabolic_growth", {"media_constraints": {"EX_glc__D_e": [lb, 1000.0]}})
        ok = result["status"] == "success" and not result.get("degraded")
        return (200 if ok else 599), not _close(result.get("biological_output", {}).get("growth_rate"),
                                                self.refs["growth"][lb])

    def vm_kinetic(self):
        end = self.rng.choice(TIME_ENDS)
        result = self.vm.execute_biological_process("kinetic_expression", {"time_end": end, "time_points": 100})
        ok = result["status"] == "success" and not result.get("degraded")
        got = (result.get("biological_output") or {}).get("final_state") or {}
        want = self.refs["final"][end]
        return (200 if ok else 599), not all(_close(got.get(k), v) for k, v in want.items())

    def fba(self):
        lb = self.rng.choice(GLUCOSE)
        status, body = self._post("static", "/v1/fba", {"model": {"id": "e_coli_core"}, "fluxes": ["PGI"],
                                                        "bounds": {"EX_glc__D_e": [lb, 1000]}})
        return status, status == 200 and not _close(body["objective_value"], self.refs["growth"][lb])

    def fva(self):
        status, body = self._post("static", "/v1/fva", {"model": {"id": "e_coli_core"}, "reactions": FVA_REACTIONS})
        return status, status == 200 and set(body["ranges"]) != set(FVA_REACTIONS)

    def knockouts(self):
        status, body = self._post("static", "/v1/knockouts", {"model": {"id": "e_coli_core"},
                                                              "genes": ["b1241", "b0351", "b1849", "b3115"]})
        return status, status == 200 and not _close(body["wild_type_growth"], self.refs["default_growth"])

    def simulate(self):
        end = self.rng.choice(TIME_ENDS)
        status, body = self._post("dynamic", "/v1/simulate", {"model": {"id": "gene_expression"}, "end": end,
                                                              "points": 100})
        wrong = status == 200 and not all(_close(body["trajectories"][k][-1], v)
                                          for k, v in self.refs["final"][end].items())
        return status, wrong

    def scan(self):
        status, body = self._post("dynamic", "/v1/scan", {"model": {"id": "repressilator"}, "end": 50, "points": 50,
                                                          "grid": {"n": [1.5, 2.0, 2.5, 3.0]}})
        return status, status == 200 and len(body["points"]) != 4

    def steady_state(self):
        status, body = self._post("dynamic", "/v1/steady-state", {"model": {"id": "gene_expression"}})
        return status, status == 200 and "protein" not in body["steady_state"]

    def inline(self):
        """Distinct inline programs (more than the cache holds): compile, cache and evict under load."""
        status, body = self._post("dynamic", "/v1/simulate", {"model": {"antimony": _program(self.rng.randrange(40))},
                                                              "end": 1, "points": 5})
        return status, status == 200 and len(body["time"]) != 5

    VALID = ("vm_metabolic", "vm_kinetic", "fba", "fva", "knockouts", "simulate", "scan", "steady_state", "inline")

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            started = time.perf_counter()
            if self.rng.random() < 0.2:
                name, service, path, body, headers = self.rng.choice(BAD)
                try:
                    resp = self.session.post(self.urls[service] + path, data=body, timeout=120,
                                             headers={"Content-Type": "application/json", **headers})
                    status = resp.status_code
                except requests.RequestException as exc:
                    status = 0
                    self.failures.append(f"{name}: {exc}")
                self.outcomes.append(Outcome(name, False, status, time.perf_counter() - started))
                continue
            name = self.rng.choice(self.VALID)
            try:
                status, wrong = getattr(self, name)()
            except Exception as exc:  # counted, reported, and the soak goes on
                status, wrong = 0, False
                self.failures.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
            self.outcomes.append(Outcome(name, True, status, time.perf_counter() - started, wrong))
        self.vm.destroy()
        self.client.close()
        self.session.close()


# -- measurement ----------------------------------------------------------------------------------------
def _rss(procs) -> dict[str, dict[int, int]]:
    return {p.service: {pid: rss_bytes(pid) for pid in engine_pids(p)} for p in procs}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def summarize(outcomes: list[Outcome]) -> dict:
    valid = [o for o in outcomes if o.valid]
    bad = [o for o in outcomes if not o.valid]
    ms = lambda xs: round(1000 * xs, 2)  # noqa: E731
    return {
        "requests": len(outcomes),
        "valid_requests": len(valid),
        "bad_requests": len(bad),
        "errors_on_valid": sum(o.status != 200 for o in valid),
        "5xx_on_valid": sum(o.status >= 500 for o in valid),
        "transport_failures": sum(o.status == 0 for o in outcomes),
        "wrong_values": sum(o.wrong for o in valid),
        "bad_answered_4xx": sum(400 <= o.status < 500 for o in bad),
        "bad_not_4xx": sum(not 400 <= o.status < 500 for o in bad),
        "p50_ms": ms(_pct([o.seconds for o in outcomes], 0.50)),
        "p99_ms": ms(_pct([o.seconds for o in outcomes], 0.99)),
        "valid_p50_ms": ms(_pct([o.seconds for o in valid], 0.50)),
        "valid_p99_ms": ms(_pct([o.seconds for o in valid], 0.99)),
        "by_kind": {k: {"count": n, "p50_ms": ms(_pct([o.seconds for o in outcomes if o.kind == k], 0.5)),
                        "statuses": dict(Counter(str(o.status) for o in outcomes if o.kind == k))}
                    for k, n in sorted(Counter(o.kind for o in outcomes).items())},
    }


def write_results_section(figures: dict) -> None:
    s = figures["summary"]
    mib = lambda b: f"{b / 2**20:.0f}"  # noqa: E731
    rss_rows = []
    for service, start in figures["rss_start"].items():
        end = figures["rss_end"].get(service, {})
        for pid, before in start.items():
            rss_rows.append(f"| {service} | {pid} | {mib(before)} | {mib(figures['rss_after_warmup'][service][pid])} "
                            f"| {mib(end[pid]) if pid in end else 'gone'} |")
    section = "\n".join([
        "## Soak",
        "",
        f"`make soak` (bench/soak.py, figures in bench/soak.json), {figures['finished']}, {figures['machine']}: "
        f"{figures['vms']} concurrent VMs (threads) for {figures['seconds']:.0f} s against the static and "
        f"dynamic services ({figures['workers']} engine processes each, default limits); 20 % bad requests "
        "(malformed JSON, unknown ids, lb > ub, NaN, model_path, entity and gzip bombs, Antimony errors and "
        "imports, limits), 80 % valid (VM process codes through bioxen_vm, FBA, FVA, knockouts, simulate, scan, "
        "steady state, inline programs that churn the model cache). Valid answers compared with in-process "
        "cobra / libRoadRunner.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| requests | {s['requests']} ({s['valid_requests']} valid, {s['bad_requests']} bad) |",
        f"| throughput | {s['requests'] / figures['seconds']:.1f} requests/s |",
        f"| errors on valid requests | {s['errors_on_valid']} |",
        f"| 5xx on valid requests | {s['5xx_on_valid']} |",
        f"| wrong values | {s['wrong_values']} |",
        f"| bad requests answered 4xx | {s['bad_answered_4xx']} of {s['bad_requests']} |",
        f"| latency p50 / p99 (all) | {s['p50_ms']} ms / {s['p99_ms']} ms |",
        f"| latency p50 / p99 (valid) | {s['valid_p50_ms']} ms / {s['valid_p99_ms']} ms |",
        f"| workers replaced (crashed) | {figures['workers_replaced']} |",
        "",
        "Worker RSS (MiB): at start (models loaded), after a warm-up of one tenth of the run, at the end.",
        "",
        "| service | worker pid | start | after warm-up | end |",
        "|---|---|---|---|---|",
        *rss_rows,
        "",
    ])
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(r"^## Soak\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="duration of the load (default 180)")
    parser.add_argument("--vms", type=int, default=16, help="concurrent VMs (threads), default 16")
    parser.add_argument("--workers", type=int, default=2, help="engine processes per service, default 2")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--no-write", action="store_true", help="print the figures, write no files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bioxen_vm").setLevel(logging.ERROR)

    refs = references()
    specs = [{"service": s, "host": "127.0.0.41", "workers": args.workers} for s in ("static", "dynamic")]
    with services(*specs) as procs:
        urls = {p.service: p.url for p in procs}
        pids_start = {p.service: sorted(engine_pids(p)) for p in procs}
        rss_start = _rss(procs)
        log.info("services ready: %s; workers %s", urls, pids_start)
        started = time.monotonic()
        deadline = started + args.seconds
        vms = [VM(n, urls, deadline, refs, args.seed * 1000 + n) for n in range(args.vms)]
        for vm in vms:
            vm.start()
        time.sleep(min(args.seconds / 10, 30))
        rss_warm = _rss(procs)
        samples = []
        while any(vm.is_alive() for vm in vms):
            samples.append({"t": round(time.monotonic() - started, 1),
                            "rss_bytes": {s: sum(v.values()) for s, v in _rss(procs).items()}})
            for vm in vms:
                vm.join(timeout=max(0.0, 10.0 / len(vms)))
        elapsed = time.monotonic() - started
        rss_end = _rss(procs)
        pids_end = {p.service: sorted(engine_pids(p)) for p in procs}

    outcomes = [o for vm in vms for o in vm.outcomes]
    failures = [f for vm in vms for f in vm.failures]
    replaced = sum(len(set(pids_start[s]) - set(pids_end.get(s, []))) for s in pids_start)
    figures = {
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs, "
                   f"Python {platform.python_version()}",
        "seconds": elapsed, "vms": args.vms, "workers": args.workers, "seed": args.seed,
        "summary": summarize(outcomes),
        "workers_start": pids_start, "workers_end": pids_end, "workers_replaced": replaced,
        "rss_start": rss_start, "rss_after_warmup": rss_warm, "rss_end": rss_end, "rss_samples": samples,
        "failures": failures[:50],
    }
    s = figures["summary"]
    print(json.dumps({k: v for k, v in s.items() if k != "by_kind"}, indent=2))
    for service in rss_start:
        print(f"{service} worker RSS MiB start {sum(rss_start[service].values()) / 2**20:.0f}, after warm-up "
              f"{sum(rss_warm[service].values()) / 2**20:.0f}, end {sum(rss_end[service].values()) / 2**20:.0f}")
    if not args.no_write:
        OUT_JSON.write_text(json.dumps(figures, indent=1, default=str) + "\n")
        write_results_section(figures)
        print(f"wrote {OUT_JSON.relative_to(ROOT)} and the Soak section of {RESULTS.relative_to(ROOT)}")
    ok = s["5xx_on_valid"] == 0 and s["errors_on_valid"] == 0 and s["wrong_values"] == 0 \
        and s["bad_not_4xx"] == 0 and replaced == 0
    if failures:
        print("failures:", *failures[:10], sep="\n  ")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
