"""Hypervisor routing and the BioXen VM API against the real services; the degraded fallback against an
address where nothing listens (a real connection refusal, not a mock)."""

from __future__ import annotations

import logging
import socket

import pytest

from bioxen_vm import (BIOLOGICAL_TYPES, VM_TYPES, BiologicalComputationHypervisor, ServiceUnavailable,
                       VMStateError, create_bio_vm, get_chassis_config)
from bioxen_vm import metrics
from bioxen_vm.hypervisor import route

TOL = 1e-6


@pytest.fixture(scope="module")
def dead_url() -> str:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture()
def urls(static_url, dynamic_url) -> dict:
    return {"static": static_url, "dynamic": dynamic_url}


@pytest.mark.parametrize("code, kind", [
    ("metabolic_flux_analysis", "metabolic"), ("glycolysis_flux", "metabolic"), ("metabolic_", "metabolic"),
    ("kinetic_gene_expression", "kinetic"), ("protein_dynamics", "kinetic"),
    ("dynamic_fba_batch", "dfba"), ("metabolic_dfba_glucose", "dfba"),
    ("dna_replication", "symbolic"), ("Metabolic_upper", "symbolic"), ("", "symbolic"),
])
def test_routing_table(code, kind):
    assert route(code).kind == kind


def test_hypervisor_results_for_each_route(urls):
    with BiologicalComputationHypervisor(static_service_url=urls["static"],
                                         dynamic_service_url=urls["dynamic"]) as hv:
        ctx = {"vm_id": "hv_test", "biological_type": "ecoli"}
        fba = hv.execute_biological_process("metabolic_flux_analysis", ctx)
        kin = hv.execute_biological_process("kinetic_gene_expression",
                                            {**ctx, "time_start": 0, "time_end": 10, "time_points": 100})
        dfba = hv.execute_biological_process("dynamic_fba_batch", {**ctx, "dfba": {"end": 5, "points": 11}})
        sym = hv.execute_biological_process("dna_replication", ctx)
        anaerobic = hv.execute_biological_process(
            "metabolic_anaerobic", {**ctx, "media_constraints": {"EX_o2_e": [0, 1000]}})
    keys = {"status", "execution_type", "computation_service", "process_code", "biological_output",
            "service_results", "execution_time"}
    for result in (fba, kin, dfba, sym):
        assert keys <= set(result)
        assert isinstance(result["execution_time"], float) and result["execution_time"] > 0
    assert (fba["status"], fba["execution_type"], fba["computation_service"]) == (
        "success", "service_based_computation", "centralized_static")
    assert fba["biological_output"]["growth_rate"] == pytest.approx(0.873922, abs=TOL)
    assert anaerobic["biological_output"]["growth_rate"] == pytest.approx(0.211663, abs=TOL)
    assert kin["computation_service"] == "centralized_dynamic"
    assert kin["biological_output"]["final_state"] == pytest.approx({"mRNA": 0.367166, "protein": 0.487050}, abs=TOL)
    assert dfba["computation_service"] == "centralized_static" and dfba["biological_output"]["final_time"] == 5
    assert (sym["execution_type"], sym["computation_service"], sym["service_results"]) == (
        "symbolic", "vm_local_symbolic", None)
    assert fba["execution_time"] != kin["execution_time"]  # measured, not a constant


def _numbers(value) -> list:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [value]
    items = value.values() if isinstance(value, dict) else value
    return [n for item in items for n in _numbers(item)]


def test_degraded_fallback_is_honest(dead_url, dynamic_url, caplog):
    before = metrics.sample("bioxen_vm_fallbacks_total", {"vm_id": "down_vm", "reason": "service_unavailable"})
    before_c = metrics.sample("bioxen_vm_computations_total",
                              {"vm_id": "down_vm", "kind": "metabolic", "outcome": "fallback"})
    with BiologicalComputationHypervisor(static_service_url=dead_url, dynamic_service_url=dynamic_url,
                                         retries=1, backoff=0.001, strict=False) as hv:
        with caplog.at_level(logging.WARNING, logger="bioxen_vm.hypervisor"):
            result = hv.execute_biological_process("metabolic_flux_analysis",
                                                   {"vm_id": "down_vm", "biological_type": "ecoli"})
    assert result["status"] == "degraded" and result["degraded"] is True
    assert (result["execution_type"], result["computation_service"]) == ("symbolic", "vm_local_symbolic")
    assert result["intended_service"] == "centralized_static"
    assert "connection refused" in result["degraded_reason"] and dead_url in result["degraded_reason"]
    assert result["service_results"] is None
    assert _numbers(result["biological_output"]) == []  # no invented numbers
    assert any("degraded to symbolic" in r.getMessage() for r in caplog.records)
    assert metrics.sample("bioxen_vm_fallbacks_total",
                          {"vm_id": "down_vm", "reason": "service_unavailable"}) == before + 1
    assert metrics.sample("bioxen_vm_computations_total",
                          {"vm_id": "down_vm", "kind": "metabolic", "outcome": "fallback"}) == before_c + 1


def test_strict_raises_instead_of_degrading(dead_url, monkeypatch):
    with BiologicalComputationHypervisor(static_service_url=dead_url, retries=0, strict=True) as hv:
        with pytest.raises(ServiceUnavailable, match="connection refused"):
            hv.execute_biological_process("metabolic_flux_analysis", {"vm_id": "strict_vm"})
    monkeypatch.setenv("BIOXEN_STRICT", "1")
    with BiologicalComputationHypervisor(static_service_url=dead_url, retries=0) as hv:
        assert hv.strict is True


def test_service_errors_are_reported_not_degraded(urls):
    with BiologicalComputationHypervisor(static_service_url=urls["static"]) as hv:
        result = hv.execute_biological_process(
            "metabolic_bad", {"vm_id": "err_vm", "biological_type": "ecoli", "media_constraints": {"NOPE": [0, 1]}})
    assert result["status"] == "error" and result["error_code"] == "unknown_reaction"
    assert not result.get("degraded")


# -- the VM API ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, listed", [
    (("vm1", "plant"), BIOLOGICAL_TYPES),
    (("vm1", "ecoli", "huge"), VM_TYPES),
])
def test_create_bio_vm_rejects_unknown_values_listing_the_supported_ones(args, listed):
    with pytest.raises(ValueError) as info:
        create_bio_vm(*args)
    for value in listed:
        assert value in str(info.value)


def test_lifecycle_and_execute_only_when_running(urls):
    vm = create_bio_vm("life_vm", "ecoli", "basic", {"computation_service_urls": urls})
    with pytest.raises(VMStateError, match="created"):
        vm.execute_biological_process("metabolic_flux_analysis")
    assert vm.start() and vm.get_status()["state"] == "running"
    with pytest.raises(VMStateError):
        vm.start()
    assert vm.execute_biological_process("metabolic_flux_analysis")["status"] == "success"
    vm.pause()
    with pytest.raises(VMStateError, match="paused"):
        vm.execute_biological_process("metabolic_flux_analysis")
    vm.resume()
    status = vm.get_computation_service_status()
    assert status["static_service"] and status["dynamic_service"]
    assert status["services"]["static"]["endpoints"] == [urls["static"]]
    usage = vm.get_resource_usage()
    assert usage["executions"] == 1 and usage["service_computations"] == 1
    vm.destroy()
    with pytest.raises(VMStateError, match="destroyed"):
        vm.execute_biological_process("metabolic_flux_analysis")


@pytest.mark.parametrize("btype, model, growth", [("ecoli", "e_coli_core", 0.873922),
                                                  ("yeast", "iMM904", 0.287866),
                                                  ("syn3a", "iMB155", 0.342393),
                                                  ("minimal_cell", "iMB155", 0.342393),
                                                  ("orthogonal", "e_coli_core", 0.873922)])
def test_each_chassis_runs_its_own_model(urls, btype, model, growth):
    assert get_chassis_config(btype)["metabolic_model"] == model
    with create_bio_vm(f"{btype}_vm", btype, "lightweight", {"computation_service_urls": urls}) as vm:
        result = vm.execute_biological_process("metabolic_flux_analysis")
    assert result["biological_output"]["model"] == model
    assert result["biological_output"]["growth_rate"] == pytest.approx(growth, abs=TOL)


def test_enhanced_vm_caches_successful_results_only(urls, dead_url):
    with create_bio_vm("cache_vm", "ecoli", "enhanced", {"computation_service_urls": urls}) as vm:
        first = vm.execute_biological_process("kinetic_gene_expression")
        second = vm.execute_biological_process("kinetic_gene_expression")
        other = vm.execute_biological_process("kinetic_gene_expression", {"time_end": 20})
        assert (first["cache_hit"], second["cache_hit"], other["cache_hit"]) == (False, True, False)
        assert second["biological_output"] == first["biological_output"]
        assert vm.get_resource_usage()["cache_hits"] == 1
    config = {"computation_service_urls": {"static": dead_url}, "retries": 0}
    with create_bio_vm("cache_down_vm", "ecoli", "enhanced", config) as vm:
        results = [vm.execute_biological_process("metabolic_flux_analysis") for _ in range(2)]
    assert [r["cache_hit"] for r in results] == [False, False]
    assert all(r["degraded"] for r in results)


def test_lightweight_vm_raises_when_the_service_is_down(dead_url):
    with create_bio_vm("light_vm", "ecoli", "lightweight",
                       {"computation_service_urls": {"static": dead_url}, "retries": 0}) as vm:
        with pytest.raises(ServiceUnavailable):
            vm.execute_biological_process("metabolic_flux_analysis")


def test_disabled_service_computation_runs_symbolically_without_pretending(urls):
    with create_bio_vm("sym_vm", "yeast", "basic",
                       {"enable_service_computation": False, "computation_service_urls": urls}) as vm:
        result = vm.execute_biological_process("metabolic_flux_analysis")
    assert (result["execution_type"], result["status"]) == ("symbolic", "success")
    assert not result.get("degraded") and _numbers(result["biological_output"]) == []


def test_get_chassis_config_reads_the_manifest():
    config = get_chassis_config("yeast")
    assert config["default_objective"] == "BIOMASS_SC5_notrace"
    assert "teusink_glycolysis" in config["kinetic_programs"] and "fva" in config["capabilities"]
    with pytest.raises(ValueError, match="supported: .*ecoli"):
        get_chassis_config("plant")
