"""The service-based computation demo (``bioxen demo``, ``make demo``).

Health check; FBA for an E. coli VM; a kinetic gene-expression run; a yeast VM; three VMs
(``ecoli_vm_1``, ``ecoli_vm_2``, ``yeast_vm_1``) running concurrently against the same services; an
enhanced VM's cache; and what happens when a service is down (an honest, degraded result, and a strict
VM that raises). With no endpoints configured it starts both services locally on free ports with
``python -m bioxen_services serve`` (when that distribution is installed) and stops them when done.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Callable

from bioxen_common.names import SERVICES_PACKAGE

from . import discovery
from .client import BiologicalComputationClient
from .errors import ServiceError, ServiceUnavailable
from .transport import HTTPTransport, Timeout, TransportError
from .vm import create_bio_vm

DEMO_VMS = (("ecoli_vm_1", "ecoli", "basic"), ("ecoli_vm_2", "ecoli", "enhanced"),
            ("yeast_vm_1", "yeast", "basic"))
PROCESSES = ("metabolic_flux_analysis", "kinetic_gene_expression")


class DemoError(RuntimeError):
    pass


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log_path: str, wait: float) -> None:
    transport = HTTPTransport()
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                with open(log_path, errors="replace") as fh:
                    raise DemoError(f"local service at {url} exited with {proc.returncode}: {fh.read()[-2000:]}")
            try:
                if transport.request("GET", url + "/readyz", timeout=Timeout(1.0, 2.0)).status == 200:
                    return
            except TransportError:
                pass
            time.sleep(0.25)
    finally:
        transport.close()
    raise DemoError(f"local service at {url} not ready after {wait:.0f} s (log: {log_path})")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def local_redis(host: str = "127.0.0.1"):
    """A throw-away ``redis-server`` on a free port (no persistence) for the demo's job; yields its URL,
    or None when redis-server is not installed. Stopped on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = _free_port(host)
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", host, "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((host, port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise DemoError(f"redis-server did not start on {host}:{port}") from None
                time.sleep(0.05)
        yield f"redis://{host}:{port}/0"
    finally:
        _stop(proc)


@contextmanager
def local_worker(service: str, redis_url: str):
    """``python -m bioxen_services.jobs.worker <service>`` (one engine) taking the demo's job chunks."""
    log_path = tempfile.mkstemp(prefix=f"bioxen-demo-worker-{service}-", suffix=".log")[1]
    env = {**os.environ, "BIOXEN_REDIS_URL": redis_url, "BIOXEN_ENGINES": "1"}
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", f"{SERVICES_PACKAGE}.jobs.worker", service,
                                 "--metrics-port", "0", "--log-level", "warning"], env=env, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        _stop(proc)


@contextmanager
def local_service(service: str, host: str = "127.0.0.1", workers: int = 1, wait: float = 180.0,
                  redis_url: str | None = None):
    """``python -m bioxen_services serve <service>`` on a free port as a subprocess; yields its URL;
    stopped on exit. With ``redis_url`` it takes jobs too."""
    if importlib.util.find_spec(SERVICES_PACKAGE) is None:
        raise DemoError("no service endpoints are configured and the services are not installed here: "
                        "pass --static-url/--dynamic-url (e.g. through kubectl port-forward) or install "
                        "bioxen-services[static,dynamic]")
    port = _free_port(host)
    url = f"http://{host}:{port}"
    metrics_dir = tempfile.mkdtemp(prefix=f"bioxen-demo-{service}-")
    log_path = metrics_dir + ".log"
    cmd = [sys.executable, "-m", SERVICES_PACKAGE, "--log-level", "warning", "serve", service, "--host", host,
           "--port", str(port), "--workers", str(workers), "--metrics-dir", metrics_dir]
    env = {**os.environ, **({"BIOXEN_REDIS_URL": redis_url} if redis_url else {})}
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        _wait_ready(url, proc, log_path, wait)
        yield url
    finally:
        _stop(proc)


def _fmt(value, digits: int = 6) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _vm_program(vm) -> dict:
    """What each demo VM does: its chassis' FBA and the gene-expression program."""
    out = {"vm_id": vm.vm_id, "biological_type": vm.biological_type, "vm_type": vm.vm_type}
    for code in PROCESSES:
        out[code] = vm.execute_biological_process(code)
    return out


def run_service_based_computation_demo(static_url=None, dynamic_url=None, *,
                                       emit: Callable[[str], None] = print) -> dict:
    """Run the demo; returns a summary (also printed through ``emit``). Raises DemoError on failure."""
    summary: dict = {"started_services": [], "vms": {}, "service_down": {}}
    with ExitStack() as stack:
        urls = {"static": static_url, "dynamic": dynamic_url}
        redis_url = None
        if not discovery.endpoints_configured("static", urls["static"]):
            redis_url = stack.enter_context(local_redis())
            if redis_url:
                emit(f"[setup] redis-server for jobs at {redis_url}; a static job worker")
                stack.enter_context(local_worker("static", redis_url))
        for service in ("static", "dynamic"):
            if not discovery.endpoints_configured(service, urls[service]):
                emit(f"[setup] no {service} endpoint configured: starting a local {service} service ...")
                urls[service] = stack.enter_context(local_service(service, redis_url=redis_url))
                summary["started_services"].append(service)
                emit(f"[setup] {service} service ready at {urls[service]}")
        client = stack.enter_context(BiologicalComputationClient(urls["static"], urls["dynamic"]))

        emit("\n== 1. health check")
        health = client.check_service_health()
        summary["health"] = health
        for service, ok in health.items():
            emit(f"  {service:16s} {'healthy' if ok else 'UNREACHABLE'}  endpoints: "
                 f"{', '.join(client.endpoints(service.split('_')[0])) or '-'}")
        if not all(health.values()):
            raise DemoError(f"services are not healthy: {health}")

        emit("\n== 2. three VMs run concurrently against the same services")
        config = {"computation_service_urls": urls}
        vms = [create_bio_vm(vm_id, btype, vtype, config) for vm_id, btype, vtype in DEMO_VMS]
        for vm in vms:
            vm.start()
            stack.callback(lambda v=vm: v.state != "destroyed" and v.destroy())
        with ThreadPoolExecutor(len(vms)) as pool:
            runs = list(pool.map(_vm_program, vms))
        emit(f"  {'vm':12s} {'chassis':8s} {'model':12s} {'growth (1/h)':>14s} {'mRNA':>10s} {'protein':>10s}"
             f" {'service':>22s}")
        for run in runs:
            fba, kin = run[PROCESSES[0]], run[PROCESSES[1]]
            if fba["status"] != "success" or kin["status"] != "success":
                raise DemoError(f"{run['vm_id']}: a computation failed: {fba.get('error') or kin.get('error')}")
            final = kin["biological_output"]["final_state"]
            emit(f"  {run['vm_id']:12s} {run['biological_type']:8s} {fba['biological_output']['model']:12s} "
                 f"{_fmt(fba['biological_output']['growth_rate']):>14s} {_fmt(final.get('mRNA')):>10s} "
                 f"{_fmt(final.get('protein')):>10s} {fba['computation_service']:>22s}")
            summary["vms"][run["vm_id"]] = {
                "growth_rate": fba["biological_output"]["growth_rate"], "final_state": final,
                "execution_type": fba["execution_type"]}

        emit("\n== 3. the enhanced VM answers a repeated request from its cache")
        enhanced = vms[1]
        again = enhanced.execute_biological_process(PROCESSES[0])
        emit(f"  {enhanced.vm_id}: cache_hit={again['cache_hit']} growth={_fmt(again['biological_output']['growth_rate'])}"
             f"  usage={enhanced.get_resource_usage()}")
        summary["cache_hit"] = again["cache_hit"]

        emit("\n== 4. a symbolic process (no service involved)")
        symbolic = vms[0].execute_biological_process("dna_replication")
        emit(f"  ecoli_vm_1 dna_replication: execution_type={symbolic['execution_type']} "
             f"output={symbolic['biological_output']['note']}")

        emit("\n== 5. when a service is down")
        dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
        down_config = {"computation_service_urls": {"static": dead, "dynamic": urls["dynamic"]},
                       "retries": 1, "timeout": 2.0}
        with create_bio_vm("ecoli_vm_down", "ecoli", "basic", down_config) as down_vm:
            degraded = down_vm.execute_biological_process(PROCESSES[0])
        emit(f"  basic VM, static service at {dead} (nothing listening):")
        emit(f"    status={degraded['status']} execution_type={degraded['execution_type']} "
             f"degraded={degraded.get('degraded')}")
        emit(f"    reason: {degraded.get('degraded_reason')}")
        emit(f"    numbers reported: {degraded['service_results']}  (none are invented)")
        summary["service_down"]["degraded"] = {k: degraded.get(k) for k in
                                               ("status", "execution_type", "degraded", "degraded_reason")}
        with create_bio_vm("ecoli_vm_strict", "ecoli", "lightweight", down_config) as strict_vm:
            try:
                strict_vm.execute_biological_process(PROCESSES[0])
                raised = None
            except ServiceUnavailable as exc:
                raised = str(exc)
        emit(f"  lightweight (strict) VM: raised ServiceUnavailable: {raised}")
        summary["service_down"]["strict_raised"] = raised is not None

        emit("\n== 6. a long computation as a job: submitted, watched, fetched")
        if redis_url is None and summary["started_services"]:
            emit("  skipped: redis-server is not installed here (make tools installs it)")
        else:
            try:
                job = client.submit("fva", {"model": {"id": "e_coli_core"}, "fraction_of_optimum": 0.9},
                                    chunk_size=32)
                emit(f"  job {job.id}: {job.info['status']}")
                job.wait(timeout=300, progress=lambda done, total: emit(f"  chunks done: {done}/{total}"))
                ranges = job.result()["ranges"]
                direct = client.post("static", "/v1/fva", {"model": {"id": "e_coli_core"},
                                                           "fraction_of_optimum": 0.9})["ranges"]
                emit(f"  {len(ranges)} reaction ranges; identical to one synchronous POST /v1/fva: {ranges == direct}")
                summary["job"] = {"id": job.id, "reactions": len(ranges), "equal": ranges == direct}
            except ServiceError as exc:
                emit(f"  jobs are not available on this service: {exc}")

        for vm in vms:
            vm.destroy()
        emit("\n== done: VMs destroyed" + (f"; stopping local services {summary['started_services']}"
                                           if summary["started_services"] else ""))
    return summary


def main(static_url=None, dynamic_url=None) -> int:
    try:
        run_service_based_computation_demo(static_url, dynamic_url)
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0

