"""The ``bioxen`` command: the model first, tables by default, ``--format json`` parsed, ``--plot`` writes a
PNG; ``vm run`` as a real subprocess exporting its metrics and stopping cleanly on SIGTERM; the demo end to
end. The grammar itself, walked over every command: test_cli_grammar.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import requests

from bioxen_vm.cli import main
from client_support import metric_value
from support import BIN, free_port

TOL = 1e-6


def run_json(capsys, *argv) -> dict:
    assert main(list(argv) + ["--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture()
def ep(static_url, dynamic_url) -> list[str]:
    return ["--static-url", static_url, "--dynamic-url", dynamic_url]


def test_health(capsys, ep):
    result = run_json(capsys, "health", *ep)
    assert (result["static_service"], result["dynamic_service"]) == (True, True)
    assert main(["health", *ep]) == 0
    assert "healthy" in capsys.readouterr().out


def test_health_exit_status_when_a_service_is_down(capsys, static_url):
    dead = f"http://127.0.0.1:{free_port()}"
    assert main(["health", "--static-url", static_url, "--dynamic-url", dead, "--retries", "0"]) == 1
    assert "UNREACHABLE" in capsys.readouterr().out


def test_fba_table_json_and_plot(capsys, ep, tmp_path):
    result = run_json(capsys, "fba", "e_coli_core", *ep, "--bound", "EX_glc__D_e=-5,1000")
    assert result["objective_value"] == pytest.approx(0.415598, abs=TOL)
    plot = tmp_path / "fluxes.png"
    assert main(["fba", *ep, "--pfba", "--top", "10", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "pfba on e_coli_core: status optimal" in out and "reaction" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fva_and_knockouts(capsys, ep):
    fva = run_json(capsys, "fva", "e_coli_core", *ep, "--reactions", "PGI,PFK,EX_ac_e", "--chunk-size", "1")
    assert list(fva["ranges"]) == ["PGI", "PFK", "EX_ac_e"] and fva["chunks"] == 3
    ko = run_json(capsys, "knockouts", "e_coli_core", *ep, "--genes", "b1241,b2276", "--chunk-size", "1")
    assert [r["id"] for r in ko["results"]] == ["b1241", "b2276"]
    assert ko["results"][1]["growth"] == pytest.approx(0.211663, abs=TOL)  # b2276 (nuoM): anaerobic-like


def final_protein(rr, **parameters) -> float:
    rr.resetAll()
    for key, value in parameters.items():
        rr[key] = value
    return rr.simulate(0, 10, 100, ["time", "[protein]"])[-1, 1]


def test_simulate_a_local_antimony_file_sent_inline(capsys, ep, tmp_path, gene_expression_text, reference_rr):
    program = tmp_path / "my_circuit.ant"
    program.write_text(gene_expression_text.replace("k_translation = 0.2", "k_translation = 0.4"))
    result = run_json(capsys, "simulate", str(program), *ep, "--end", "10", "--points", "100")
    assert result["trajectories"]["protein"][-1] == pytest.approx(
        final_protein(reference_rr, k_translation=0.4), rel=1e-6)
    plot = tmp_path / "traj.png"
    assert main(["simulate", *ep, "--plot", str(plot)]) == 0
    assert "time" in capsys.readouterr().out and plot.stat().st_size > 1000


def test_scan_and_dfba(capsys, ep, tmp_path, reference_rr):
    scan = run_json(capsys, "scan", "gene_expression", *ep, "--grid", "k_translation=0.2,0.4",
                    "--grid", "k_transcription=0.1", "--chunk-size", "1")
    assert scan["points"] == [[0.2, 0.1], [0.4, 0.1]] and scan["chunks"] == 2
    assert scan["final"]["protein"] == pytest.approx(
        [final_protein(reference_rr, k_translation=k) for k in (0.2, 0.4)], rel=1e-6)
    dfba = run_json(capsys, "dfba", "e_coli_core", *ep, "--conc", "EX_glc__D_e=10", "--conc", "EX_ac_e=0",
                    "--uptake", "EX_glc__D_e=10,0.015", "--end", "6", "--points", "13")
    assert len(dfba["time"]) == 13 and dfba["biomass"][-1] > dfba["biomass"][0]
    assert main(["dfba", *ep, "--end", "4", "--points", "5", "--plot", str(tmp_path / "d.png")]) == 0
    assert "dFBA of e_coli_core" in capsys.readouterr().out


def test_service_error_is_reported_with_its_code(capsys, ep):
    assert main(["fba", *ep, "--objective", "NOPE"]) == 1
    assert "unknown_reaction" in capsys.readouterr().err


def _vm_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("BIOXEN_", "PROMETHEUS_"))}


def test_vm_run_exports_metrics_and_stops_cleanly_on_sigterm(static_url, dynamic_url):
    port = free_port()
    proc = subprocess.Popen([str(BIN / "bioxen"), "vm", "run", "--id", "ecoli_vm_1", "--type", "ecoli",
                             "--interval", "0.2", "--metrics-port", str(port), "--static-url", static_url,
                             "--dynamic-url", dynamic_url], env=_vm_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        labels = {"vm_id": "ecoli_vm_1", "kind": "metabolic", "outcome": "success"}
        deadline, value, text = time.monotonic() + 60, 0.0, ""
        while time.monotonic() < deadline and value < 2:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                value = metric_value(text, "bioxen_vm_computations_total", **labels)
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        assert value >= 2, text
        assert metric_value(text, "bioxen_vm_computations_total", vm_id="ecoli_vm_1", kind="kinetic",
                            outcome="success") >= 1
        assert metric_value(text, "bioxen_vm_computation_duration_seconds_count", kind="metabolic") >= 2
        assert metric_value(text, "bioxen_vm_service_endpoints", service="static") == 1
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "received SIGTERM" in out and "destroyed" in out


def test_vm_run_counts_fallbacks_when_the_service_is_down(capsys, dynamic_url):
    from bioxen_vm import metrics

    dead = f"http://127.0.0.1:{free_port()}"
    before = metrics.sample("bioxen_vm_fallbacks_total", {"vm_id": "fallback_vm", "reason": "service_unavailable"})
    assert main(["vm", "run", "--id", "fallback_vm", "--type", "yeast", "--iterations", "2", "--interval", "0",
                 "--static-url", dead, "--dynamic-url", dynamic_url]) == 0
    assert metrics.sample("bioxen_vm_fallbacks_total",
                          {"vm_id": "fallback_vm", "reason": "service_unavailable"}) == before + 2


@pytest.mark.slow
def test_demo_end_to_end_starts_and_stops_its_own_services():
    """``bioxen demo`` with no endpoint configured: the embedded default starts both services."""
    proc = subprocess.run([str(BIN / "bioxen"), "demo"], env=_vm_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for text in ("ecoli_vm_1", "ecoli_vm_2", "yeast_vm_1", "cache_hit=True", "status=degraded",
                 "degraded=True", "raised ServiceUnavailable", "stopping local services ['static', 'dynamic']",
                 # its own redis-server and job worker: a chunked FVA job equal to the synchronous answer
                 "chunks done: 3/3", "95 reaction ranges; identical to one synchronous POST /v1/fva: True"):
        assert text in out, out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.strip().startswith(("ecoli_vm", "yeast_vm")) and line.endswith("centralized_static")}
    assert float(rows["ecoli_vm_1"][3]) == pytest.approx(0.873922, abs=1e-6)
    assert float(rows["yeast_vm_1"][3]) == pytest.approx(0.287866, abs=1e-6)
    started = [line.split(" at ")[1] for line in out.splitlines() if "service ready at" in line]
    assert len(started) == 2
    for url in started:  # stopped when done
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/healthz", timeout=2)


def test_demo_from_python_against_given_endpoints(static_url, dynamic_url):
    from bioxen_vm import run_service_based_computation_demo

    lines = []
    summary = run_service_based_computation_demo(static_url, dynamic_url, emit=lines.append)
    assert summary["started_services"] == []
    assert set(summary["vms"]) == {"ecoli_vm_1", "ecoli_vm_2", "yeast_vm_1"}
    assert summary["vms"]["ecoli_vm_2"]["growth_rate"] == pytest.approx(0.873922, abs=TOL)
    assert summary["cache_hit"] is True and summary["service_down"]["strict_raised"] is True
    assert summary["service_down"]["degraded"]["execution_type"] == "symbolic"
