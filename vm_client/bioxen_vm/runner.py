"""``bioxen vm run``: a long-running VM (the VM pods' command).

It starts, runs its chassis' process program against the services every ``interval`` seconds,
exports its own Prometheus metrics, and on SIGTERM/SIGINT finishes the round in progress, destroys
the VM and exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading

from . import metrics
from .errors import BioXenError
from .vm import create_bio_vm

log = logging.getLogger(__name__)

#: what a VM runs each round: its chassis' FBA and its first kinetic program
PROCESS_PROGRAM = ("metabolic_flux_analysis", "kinetic_gene_expression")


def run_vm(vm_id: str, biological_type: str, vm_type: str = "basic", interval: float = 10.0,
           metrics_port: int | None = None, iterations: int | None = None, static_url=None,
           dynamic_url=None, stop: threading.Event | None = None) -> int:
    if interval < 0:
        raise ValueError(f"interval must be at least 0, got {interval}")
    stop = stop or threading.Event()

    def on_signal(signum, frame):
        log.info("VM %s: received %s, shutting down", vm_id, signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    server = metrics.serve(metrics_port) if metrics_port else None
    config = {"computation_service_urls": {"static": static_url, "dynamic": dynamic_url}}
    vm = create_bio_vm(vm_id, biological_type, vm_type, config)
    vm.start()
    log.info("VM %s (%s, %s) running; chassis %s", vm_id, biological_type, vm_type, vm.chassis["metabolic_model"])
    rounds = 0
    try:
        while not stop.is_set() and (iterations is None or rounds < iterations):
            for code in PROCESS_PROGRAM:
                try:
                    result = vm.execute_biological_process(code)
                except BioXenError as exc:  # a strict (lightweight) VM: the outage is logged, not fatal
                    log.error("VM %s %s failed: %s", vm_id, code, exc)
                    continue
                log.info("VM %s %s: %s via %s in %.3f s%s", vm_id, code, result["status"],
                         result["computation_service"], result["execution_time"],
                         f" ({result['degraded_reason']})" if result.get("degraded") else "")
            rounds += 1
            if iterations is not None and rounds >= iterations:
                break
            stop.wait(interval)
    finally:
        vm.destroy()
        if server is not None:
            server[0].shutdown()  # start_http_server returns (server, thread)
        log.info("VM %s destroyed after %d rounds", vm_id, rounds)
    return 0
