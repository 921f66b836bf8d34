"""Rows about jobs (issue 14), against a real ``redis-server`` and real ``bioxen worker`` processes, all
started here on loopback and stopped by their own pids:

- FVA of every reaction of iMM904 as a job, on 2 worker processes (one engine each) against 1;
- every double-gene deletion of e_coli_core as a knockouts job (``genes: "all_pairs"``) on 2 worker
  processes, against cobra's ``double_gene_deletion`` in-process with 2 processes (growths compared);
- a 1,000-run Gillespie ensemble job (one dynamic worker with 2 engines): its time;
- the job path (submit, wait, result) against the synchronous one for a small FVA: both and the difference.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from contextlib import ExitStack

import launch
import machine
from rows_single import load_cobra
from timing import Row, paired, stats

sys.path.insert(0, str(launch.ROOT / "tests" / "jobs"))

from jobs_support import RedisServer, WorkerProcess  # noqa: E402  (tests/jobs: redis-server, `bioxen worker`)

log = logging.getLogger("bench.jobs")

#: what the workers and services of this group share besides the Redis URL (claims renewed at the default pace)
ENV = {"BIOXEN_ENGINES": "1", "BIOXEN_JOB_HEARTBEAT_SECONDS": "10"}
FVA_CHUNK = 32       # one FVA restart block per chunk: 50 chunks for iMM904, so 2 workers end together
KNOCKOUT_CHUNK = 500  # 19 chunks of the 9,316 deletions
POLL = 0.25          # seconds between status requests while a long job runs (each costs the service CPU)
FAST_POLL = 0.02     # ... while the small job of the overhead row runs


def _engine_cpu(workers) -> list[float]:
    """CPU seconds so far of each worker's engines (one number per worker)."""
    import psutil

    out = []
    for worker in workers:
        total = 0.0
        for proc in worker.engines():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:  # an engine replaced meanwhile: its time is not counted
                continue
        out.append(total)
    return out


def _fill(row: Row, candidate: list[float], baseline: list[float]) -> None:
    """The row's stats and its value: baseline / candidate for a speed-up, candidate / baseline for a
    ratio, the difference of the medians for a report."""
    row.service, row.reference_stats = stats(candidate), stats(baseline)
    a, b = row.service["median"], row.reference_stats["median"]
    row.value = b / a if row.kind == "speedup_min" else (a / b if row.kind == "ratio_max" else a - b)


def _run_job(client, kind: str, request: dict, chunk_size: int | None = None,
             poll: float = POLL) -> tuple[float, dict, dict]:
    """Submit, wait and fetch; (seconds, answer, last status)."""
    started = time.perf_counter()
    job = client.submit(kind, request, chunk_size=chunk_size)
    status = job.wait(timeout=900, poll=poll, progress=False)
    if status["status"] != "succeeded":
        raise RuntimeError(f"{kind} job {job.id} ended {status['status']}: {status.get('error')}")
    answer = job.result()
    return time.perf_counter() - started, answer, status


def jobs_rows(quick: bool = False) -> tuple[list[Row], dict]:
    from bioxen_vm.client import BiologicalComputationClient

    reps = 1 if quick else 2
    diag: dict = {"load_start": machine.loadavg()}
    rows: list[Row] = []
    with ExitStack() as stack:
        redis_server = RedisServer().start()
        stack.callback(redis_server.stop)
        env = {**ENV, "BIOXEN_REDIS_URL": redis_server.url}
        static, _ = launch.start("static", env=env, preload="iMM904,e_coli_core")
        stack.callback(static.stop)
        client = BiologicalComputationClient(static.url, static.url, timeout=900)
        stack.callback(client.close)
        workers = []

        def start_worker(service: str, engines: int = 1) -> WorkerProcess:
            preload = "iMM904,e_coli_core" if service == "static" else "gene_expression"
            worker = WorkerProcess(service, redis_server.url, env={**ENV, "BIOXEN_ENGINES": str(engines)},
                                   preload=preload)
            stack.callback(worker.stop)
            workers.append(worker)
            return worker.start(wait=300)

        start_worker("static")
        rows.append(_fva_rows(client, start_worker, workers, reps, diag))
        rows.append(_knockout_row(client, reps, diag))
        rows.append(_overhead_row(client, 5 if quick else 15, diag))
        for worker in workers:  # the static workers' cores go to the dynamic one
            worker.stop()
        dynamic, _ = launch.start("dynamic", env=env, preload="gene_expression")
        stack.callback(dynamic.stop)
        start_worker("dynamic", engines=2)
        dyn_client = BiologicalComputationClient(static.url, dynamic.url, timeout=900)
        stack.callback(dyn_client.close)
        rows.append(_ensemble_row(dyn_client, reps, diag))
    diag["load_end"] = machine.loadavg()
    for row in rows:
        row.notes.append(f"load average {diag['load_start']} at the start of the group, {diag['load_end']} at "
                         "its end (2 cores, shared)")
    return rows, diag


# -- FVA of iMM904: 2 worker processes against 1 ----------------------------------------------------
def _fva_rows(client, start_worker, workers, reps: int, diag: dict) -> Row:
    row = Row("job_fva_iMM904_2_workers", f"FVA of iMM904, all reactions, as a job (chunks of {FVA_CHUNK}) on 2 "
              "worker processes of 1 engine each", "the same job on 1 worker process (1 engine)", "speedup_min", 1.8)
    request = {"model": {"id": "iMM904"}}
    _run_job(client, "fva", {**request, "reactions": ["PGI", "PFK"]})  # warm-up: the worker's first chunk
    single, double, answers = [], [], []
    cores: dict[int, list] = {1: [], 2: []}

    def measured(count: int) -> tuple[float, dict, dict]:
        before = _engine_cpu(workers)
        seconds, answer, status = _run_job(client, "fva", request, FVA_CHUNK)
        cores[count].append([round((b - a) / seconds, 2) for a, b in zip(before, _engine_cpu(workers))])
        return seconds, answer, status

    for _ in range(reps):
        seconds, answer, status = measured(1)
        single.append(seconds)
        answers.append(answer)
    diag["fva_chunks"] = status["progress"]["total"]
    start_worker("static")
    _run_job(client, "fva", {**request, "reactions": ["PGI", "PFK"]})
    for _ in range(reps):
        seconds, answer, _ = measured(2)
        double.append(seconds)
        answers.append(answer)
    reactions = list(answers[0]["ranges"])
    worst = max(abs(a["ranges"][r][k] - answers[0]["ranges"][r][k]) for a in answers[1:]
                for r in reactions for k in ("minimum", "maximum")) if len(answers) > 1 else 0.0
    _fill(row, double, single)
    row.notes.append(f"{len(reactions)} reactions in {diag['fva_chunks']} chunks; median "
                     f"{row.reference_stats['median']:.2f} s on 1 worker, {row.service['median']:.2f} s on 2 (1 worker "
                     f"measured first, then a second started: not interleaved); ranges agree between runs to "
                     f"{worst:.1e}; cores used by each worker's engine per run: {cores[1]} (1 worker), {cores[2]} "
                     "(2 workers)")
    diag["fva"] = {"one_worker_s": single, "two_workers_s": double, "reactions": len(reactions),
                   "worker_cores": cores}
    return row.decide()


# -- every double-gene deletion of e_coli_core: the job against cobra in-process ----------------------
def _knockout_row(client, reps: int, diag: dict) -> Row:
    from cobra.flux_analysis import double_gene_deletion

    row = Row("job_double_deletions_e_coli_core", f"all double-gene deletions of e_coli_core as a knockouts job "
              f"(genes \"all_pairs\", chunks of {KNOCKOUT_CHUNK}) on 2 worker processes of 1 engine each",
              "cobra.flux_analysis.double_gene_deletion in-process, processes=2", "ratio_max", 1.2)
    model = load_cobra("e_coli_core")
    request = {"model": {"id": "e_coli_core"}, "genes": "all_pairs"}
    out: dict = {}

    def job():
        seconds, out["job"], out["status"] = _run_job(client, "knockouts", request, KNOCKOUT_CHUNK)
        return seconds

    def cobra_side():
        out["cobra"] = double_gene_deletion(model, processes=2)

    service, reference = paired(job, cobra_side, reps, warmup=0)
    pairs = [r for r in out["job"]["results"] if len(r["genes"]) == 2]
    cobra_growth = {frozenset(ids): growth for ids, growth in zip(out["cobra"]["ids"], out["cobra"]["growth"])}
    worst, missing, disagree = 0.0, 0, 0
    for r in pairs:
        theirs = cobra_growth.get(frozenset(r["genes"]))
        if theirs is None:
            missing += 1
            continue
        ours = r["growth"]
        if ours is None or theirs is None or math.isnan(theirs):
            disagree += not (ours is None and (theirs is None or math.isnan(theirs)))
            continue
        worst = max(worst, abs(ours - theirs))
    _fill(row, service, reference)
    row.notes.append(f"{len(pairs)} pairs in {out['status']['progress']['total']} chunks (cobra: {len(cobra_growth)} "
                     f"sets, the pairs and each gene with itself); growths agree to {worst:.1e} "
                     f"({'within' if worst <= 1e-6 and not disagree and not missing else 'NOT within'} 1e-6; "
                     f"{disagree} infeasible on one side only, {missing} pairs missing from cobra's)")
    diag["knockouts"] = {"job_s": service, "cobra_s": reference, "pairs": len(pairs), "largest_difference": worst,
                         "disagree": disagree, "missing": missing}
    return row.decide()


# -- the job path against the synchronous one, small FVA ------------------------------------------
def _overhead_row(client, reps: int, diag: dict) -> Row:
    row = Row("job_overhead_small_fva", "FVA of 2 reactions of e_coli_core as a job: submit + wait (status "
              f"polled every {FAST_POLL * 1e3:.0f} ms) + result, 2 static workers idle",
              "the same through POST /v1/fva (synchronous)", "report", None)
    request = {"model": {"id": "e_coli_core"}, "reactions": ["PGI", "PFK"]}
    answers: dict = {}

    def job():
        answers["job"] = _run_job(client, "fva", request, poll=FAST_POLL)[1]

    def sync():
        answers["sync"] = client.request("static", "POST", "/v1/fva", request)

    service, reference = paired(job, sync, reps, warmup=2)
    _fill(row, service, reference)
    same = answers["job"]["ranges"] == answers["sync"]["ranges"]
    row.notes.append(f"value: the difference of the medians, {row.value * 1e3:.1f} ms (job "
                     f"{row.service['median'] * 1e3:.1f} ms, synchronous {row.reference_stats['median'] * 1e3:.1f} ms);"
                     f" answers {'identical' if same else 'DIFFERENT'}")
    diag["overhead"] = {"job_s": service, "sync_s": reference}
    return row.decide()


# -- a 1,000-run Gillespie ensemble -----------------------------------------------------------------
def _ensemble_row(client, reps: int, diag: dict) -> Row:
    row = Row("job_ensemble_1000_gillespie", "ensemble job: 1,000 Gillespie runs of gene_expression (end 10, 11 "
              "points, seed 7), mean and sd per point; 1 dynamic worker with 2 engines", "-", "report", None)
    request = {"model": {"id": "gene_expression"}, "integrator": "gillespie", "end": 10, "points": 11,
               "repetitions": 1000, "seed": 7}
    _run_job(client, "ensemble", {**request, "repetitions": 10})  # warm-up
    times, answers = [], []
    for _ in range(reps):
        seconds, answer, status = _run_job(client, "ensemble", request)
        times.append(seconds)
        answers.append(answer)
    row.service = stats(times)
    row.value = row.service["median"]
    same = all(a == answers[0] for a in answers[1:])
    row.notes.append(f"{status['progress']['total']} chunks; median {row.value:.2f} s; "
                     f"{'identical' if same else 'DIFFERENT'} answers between runs for the same seed")
    diag["ensemble"] = {"seconds": times, "chunks": status["progress"]["total"]}
    return row.decide()

