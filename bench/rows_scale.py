"""Rows about scale: FVA fanned out by the VM client over 2 replicas vs 1, throughput of 2 workers vs 1
under many clients, cold start to /readyz, and the memory of one worker after many mixed requests."""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time

import requests

import launch
from rows_single import Http, load_cobra
from timing import Row, stats

log = logging.getLogger("bench.scale")


# -- FVA over replicas ---------------------------------------------------------------------------------
def fva_row(quick: bool = False) -> tuple[list[Row], dict]:
    row = Row("fva_iMM904_2_replicas", "FVA of iMM904, all reactions, through the VM client (chunks of 25 "
              "fanned out) over 2 single-worker replicas", "the same through 1 replica", "speedup_min", 1.7)
    try:
        from bioxen_vm.client import BiologicalComputationClient
    except ImportError as exc:
        row.notes.append(f"pending: the VM client is not importable yet ({exc})")
        return [row], {}
    reactions = [r.id for r in load_cobra("iMM904").reactions]
    if quick:
        reactions = reactions[:400]
        row.work += f" (quick: first {len(reactions)} reactions)"
    reps = 2 if quick else 3
    diag: dict = {"reactions": len(reactions)}
    with launch.services({"service": "static", "host": "127.0.0.2", "preload": "iMM904"},
                         {"service": "static", "host": "127.0.0.3", "preload": "iMM904"}) as (one, two):
        cores: dict[int, list[float]] = {1: [], 2: []}

        def run(urls, subset=None):
            with BiologicalComputationClient(static_service_url=urls, timeout=900) as client:
                cpu = launch.workers_cpu([one, two])
                started = time.perf_counter()
                answer = client.fva("iMM904", reactions=subset or reactions)
                elapsed = time.perf_counter() - started
                cores[len(urls)].append((launch.workers_cpu([one, two]) - cpu) / elapsed)
                return elapsed, answer

        run([one.url], reactions[:100])  # warm-up: both replicas' GLPK bases and the client pool
        run([two.url], reactions[:100])
        cores[1].clear()
        single, double = [], []
        for i in range(reps):  # alternate, so background load hits both configurations alike
            for urls, out in (([one.url], single), ([one.url, two.url], double))[::1 if i % 2 == 0 else -1]:
                seconds, answer = run(urls)
                out.append(seconds)
                if len(answer["ranges"]) != len(reactions):
                    row.notes.append(f"{len(answer['ranges'])} ranges for {len(reactions)} reactions")
                diag.setdefault("answers", []).append(answer)
    answers = diag.pop("answers")
    diag["worker_cores"] = cores
    worst = max(abs(a["ranges"][r][k] - answers[0]["ranges"][r][k]) for a in answers[1:]
                for r in reactions for k in ("minimum", "maximum"))
    diag["largest_difference_between_runs"] = worst
    row.service, row.reference_stats = stats(double), stats(single)
    row.value = row.reference_stats["median"] / row.service["median"]
    row.notes.append(f"median {row.reference_stats['median']:.2f} s on 1 replica, {row.service['median']:.2f} s "
                     f"on 2; ranges agree between runs to {worst:.1e}; cores used by the workers: "
                     f"{stats(cores[1])['median']:.2f} (1 replica), {stats(cores[2])['median']:.2f} (2 replicas)")
    return [row.decide()], diag


# -- throughput ------------------------------------------------------------------------------------------
def request_mix(model_ids: dict[str, list[str]]):
    """An endless mix of heavier requests (each a few to tens of ms of engine time), so the load
    generator's own CPU stays small next to the workers'."""
    genes = model_ids["e_coli_core_genes"]
    rng = random.Random(5)
    while True:
        yield "/v1/fba", {"model": {"id": "iMM904"}, "bounds": {"EX_glc__D_e": [-rng.uniform(1, 10), 1000]},
                          "fluxes": ["BIOMASS_SC5_notrace", "EX_glc__D_e", "EX_etoh_e"]}
        yield "/v1/knockouts", {"model": {"id": "e_coli_core"}, "genes": rng.sample(genes, 20)}
        yield "/v1/fva", {"model": {"id": "e_coli_core"}, "fraction_of_optimum": 0.9}


def drive(url: str, clients: int, seconds: float, model_ids: dict, service=None) -> dict:
    """``clients`` threads, each with its own session, send the mix for ``seconds``; answers counted, and
    the cores used by the service's workers and by this load generator (CPU seconds / wall seconds)."""
    done, errors = [0] * clients, [0] * clients
    stop = time.monotonic() + seconds

    def client(i: int):
        session = requests.Session()
        for path, body in itertools.islice(request_mix(model_ids), i, None):
            if time.monotonic() >= stop:
                return
            resp = session.post(url + path, json=body, timeout=120)
            resp.content  # noqa: B018  (read the whole answer)
            if resp.status_code == 200:
                done[i] += 1
            else:
                errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    cpu_workers = launch.workers_cpu([service]) if service else 0.0
    cpu_self = time.process_time()
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    out = {"requests": sum(done), "errors": sum(errors), "seconds": elapsed, "per_second": sum(done) / elapsed,
           "load_generator_cores": (time.process_time() - cpu_self) / elapsed}
    if service:
        out["worker_cores"] = (launch.workers_cpu([service]) - cpu_workers) / elapsed
    return out


def throughput_row(quick: bool = False) -> tuple[list[Row], dict]:
    clients, seconds, rounds = 8, (5 if quick else 10), (1 if quick else 3)
    model = load_cobra("e_coli_core")
    ids = {"e_coli_core_genes": [g.id for g in model.genes]}
    row = Row("throughput_2_workers", f"throughput, {clients} clients, mix of iMM904 FBA / 20 e_coli_core "
              "knockouts / e_coli_core FVA, one replica with 2 workers", "the same replica with 1 worker",
              "speedup_min", 1.7, unit="req/s")
    runs: dict[int, list[dict]] = {1: [], 2: []}
    with launch.services({"service": "static", "host": "127.0.0.2", "workers": 1},
                         {"service": "static", "host": "127.0.0.3", "workers": 2}) as (w1, w2):
        for url in (w1.url, w2.url):
            drive(url, clients, 2, ids)  # warm-up: every worker's first requests
        for i in range(rounds):
            for workers, proc in ((1, w1), (2, w2))[::1 if i % 2 == 0 else -1]:
                runs[workers].append(drive(proc.url, clients, seconds, ids, proc))
                log.info("throughput %d worker(s): %s", workers, runs[workers][-1])
    one = [r["per_second"] for r in runs[1]]
    two = [r["per_second"] for r in runs[2]]
    row.service, row.reference_stats = stats(two), stats(one)
    row.value = row.service["median"] / row.reference_stats["median"]
    errors = sum(r["errors"] for rs in runs.values() for r in rs)
    if errors:
        row.notes.append(f"{errors} requests failed")
    cores = {w: stats([r["worker_cores"] for r in runs[w]])["median"] for w in runs}
    gen = stats([r["load_generator_cores"] for r in runs[2]])["median"]
    row.notes.append(f"cores used by the workers: {cores[1]:.2f} with 1 worker, {cores[2]:.2f} with 2; by the "
                     f"load generator: {gen:.2f} (2 workers); throughput per worker-core: "
                     f"{row.reference_stats['median'] / cores[1]:.1f} vs {row.service['median'] / cores[2]:.1f} req/s")
    return [row.decide()], {"runs": runs}


# -- cold start and memory -------------------------------------------------------------------------
def static_mix(rng: random.Random, genes: list[str], inline_text: str):
    """Mixed static requests: FBA / pFBA / FVA / knockouts on shipped models, an inline model (parsed once,
    then by sha256), unknown sha256 (404), bad input (4xx), listings and metrics."""
    yield "POST", "/v1/fba", {"model": {"sbml": inline_text}}
    while True:
        yield "POST", "/v1/fba", {"model": {"id": "e_coli_core"}, "bounds": {"EX_glc__D_e": [-rng.uniform(1, 10), 1000]}}
        yield "POST", "/v1/fba", {"model": {"id": "e_coli_core"}, "method": "pfba",
                                  "knockouts": {"genes": rng.sample(genes, 2)}}
        yield "POST", "/v1/fba", {"model": {"id": "iMM904"}, "fluxes": ["BIOMASS_SC5_notrace"]}
        yield "POST", "/v1/fba", {"model": {"id": "iMB155"}}
        yield "POST", "/v1/fva", {"model": {"id": "e_coli_core"}, "reactions": ["PGI", "PFK", "EX_ac_e"]}
        yield "POST", "/v1/knockouts", {"model": {"id": "e_coli_core"}, "genes": rng.sample(genes, 5)}
        yield "POST", "/compute/metabolic", {"chassis_type": "ecoli", "vm_id": f"vm{rng.randrange(10**6)}"}
        yield "POST", "/v1/fba", {"model": {"sha256": "%064x" % rng.getrandbits(256)}}
        yield "POST", "/v1/fba", {"model": {"id": "e_coli_core"}, "bounds": {f"NOPE_{rng.randrange(10**6)}": [0, 1]}}
        yield "POST", "/v1/fba", {"model": {"sha256": inline_sha(inline_text)}}
        yield "GET", "/v1/models", None
        yield "GET", "/metrics", None


def dynamic_mix(rng: random.Random, inline_text: str):
    yield "POST", "/v1/simulate", {"model": {"antimony": inline_text}}
    while True:
        yield "POST", "/v1/simulate", {"model": {"id": "gene_expression"},
                                       "parameters": {"k_transcription": rng.uniform(0.01, 1)}}
        yield "POST", "/v1/simulate", {"model": {"id": "repressilator"}, "end": 500, "points": 200}
        yield "POST", "/v1/steady-state", {"model": {"id": "gene_expression"}}
        yield "POST", "/v1/scan", {"model": {"id": "gene_expression"}, "grid": {"k_mRNA_decay": [0.01, 0.05, 0.1]}}
        yield "POST", "/v1/simulate", {"model": {"id": "teusink_glycolysis"}, "end": 5, "points": 50}
        yield "POST", "/compute/kinetic", {"time_end": 20, "time_points": 50, "vm_id": f"vm{rng.randrange(10**6)}"}
        yield "POST", "/v1/simulate", {"model": {"id": "gene_expression"}, "integrator": "gillespie",
                                       "seed": rng.randrange(1, 10**6), "end": 20, "points": 21}
        yield "POST", "/v1/simulate", {"model": {"sha256": "%064x" % rng.getrandbits(256)}}
        yield "POST", "/v1/simulate", {"model": {"id": "gene_expression"}, "parameters": {"nope": 1}}
        yield "POST", "/v1/simulate", {"model": {"sha256": inline_sha(inline_text)}}
        yield "GET", "/v1/models", None
        yield "GET", "/metrics", None


def inline_sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def memory_of(service: str, total: int, checkpoints: tuple[int, ...]) -> tuple[float, dict]:
    """Cold start of a fresh single-worker replica, then the worker's RSS after each checkpoint of mixed
    requests. Returns (seconds to /readyz, {requests: rss bytes}, plus statuses seen)."""
    rng = random.Random(7)
    if service == "static":
        genes = [g.id for g in load_cobra("e_coli_core").genes]
        text = (launch.ROOT / "bytecode/metabolic/e_coli_core.xml").read_text().replace(
            'id="e_coli_core"', 'id="e_coli_core_inline"', 1)
        mix = static_mix(rng, genes, text)
    else:
        text = (launch.ROOT / "bytecode/kinetic/gene_expression.ant").read_text().replace(
            "k_transcription = 0.1", "k_transcription = 0.15")
        mix = dynamic_mix(rng, text)
    proc, cold = launch.start(service, host="127.0.0.4")
    try:
        worker, = launch.engine_pids(proc)
        http = Http(proc.url, service)
        rss: dict[int, int] = {0: launch.rss_bytes(worker)}
        codes: dict[int, int] = {}
        for n, (method, path, body) in enumerate(itertools.islice(mix, total), start=1):
            resp = http.session.request(method, proc.url + path, json=body, timeout=120)
            codes[resp.status_code] = codes.get(resp.status_code, 0) + 1
            if n in checkpoints:
                rss[n] = launch.rss_bytes(worker)
        if launch.engine_pids(proc) != [worker]:
            raise RuntimeError("the worker was replaced during the run")
        load = sum(float(line.rsplit(" ", 1)[1]) for line in http.get_text("/metrics").splitlines()
                   if line.startswith("bioxen_model_load_duration_seconds_sum"))
    finally:
        proc.stop()
    return cold, {"rss": rss, "status_codes": codes, "model_load_seconds": load}


def memory_rows(quick: bool = False) -> tuple[list[Row], dict]:
    total = 2_000 if quick else 10_000
    checkpoints = tuple(sorted({100, 500, 1_000, total // 2, total}))
    rows, diag = [], {}
    for service in ("static", "dynamic"):
        cold, found = memory_of(service, total, checkpoints)
        diag[service] = found
        rss = found["rss"]
        cold_row = Row(f"cold_start_{service}", f"{service} service, 1 worker, all shipped models, spawn to "
                       "first 200 on /readyz", "-", "report", None, unit="s",
                       service={"n": 1, "median": cold}, value=cold)
        cold_row.notes.append(f"of which loading the shipped models took {found['model_load_seconds']:.2f} s "
                              "(bioxen_model_load_duration_seconds)")
        rows.append(cold_row.decide())
        growth = (rss[total] - rss[100]) / rss[100]
        row = Row(f"memory_{service}_worker", f"RSS of one {service} worker after {total:,} mixed requests",
                  "the same worker after 100", "growth_max", 0.05, unit="MiB",
                  service={"n": 1, "median": rss[total] / 2 ** 20}, reference_stats={"n": 1, "median": rss[100] / 2 ** 20},
                  value=growth)
        row.notes.append("RSS MiB at " + ", ".join(f"{n}: {v / 2 ** 20:.1f}" for n, v in sorted(rss.items()))
                         + f"; status codes {found['status_codes']}")
        rows.append(row.decide())
    return rows, diag
