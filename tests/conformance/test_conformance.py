"""Every shared semantic case of the SBML Test Suite through real services (``POST /v1/simulate``;
fbc cases through the static service's ``POST /v1/fba``) and through the engines in-process beside
them, judged by the suite's rule. Fails when the service loses a case the engine passes in-process,
or a case of the committed baseline (``baseline.json``) no longer passes.
``scripts/conformance_report.py`` writes the same run as ``docs/conformance.md``."""

from __future__ import annotations

import time
import warnings

import pytest

import suite
from support import ServiceProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outcomes(suite_root):
    cases = suite.cases()
    started = time.monotonic()
    with ServiceProcess("dynamic", workers=2, preload="none") as dynamic, \
            ServiceProcess("static", workers=1, preload="none") as static, warnings.catch_warnings():
        # cobra and numpy warn about the suite's deliberately odd models (in-process reference only)
        warnings.simplefilter("ignore")
        results = suite.run_all(cases, dynamic.url, static.url, threads=3)
    seconds = time.monotonic() - started
    service = sum(r["service"].passed for r in results.values())
    engine = sum(r["engine"].passed for r in results.values())
    print(f"\nconformance: service {service}/{len(cases)}, in-process {engine}/{len(cases)}, {seconds:.0f} s")
    return results


def _failures(results: dict, ids) -> str:
    return "\n".join(f"{cid}: {results[cid]['service'].reason}" for cid in sorted(ids)[:30])


def test_no_case_the_engine_passes_is_lost(outcomes):
    lost = [cid for cid, r in outcomes.items() if r["engine"].passed and not r["service"].passed]
    assert not lost, f"{len(lost)} cases pass in-process but not through the service:\n" + \
        _failures(outcomes, lost)


def test_baseline_cases_still_pass(outcomes):
    baseline = suite.load_baseline()
    assert baseline, "tests/conformance/baseline.json is missing (scripts/conformance_report.py --baseline)"
    regressed = [cid for cid in baseline if cid in outcomes and not outcomes[cid]["service"].passed]
    assert not regressed, f"{len(regressed)} cases of the baseline fail now:\n" + _failures(outcomes, regressed)


def test_engine_limits_are_refused_by_name(outcomes):
    """What the engine cannot simulate is a 422 naming the feature, never a 500 or wrong numbers."""
    for cid, r in outcomes.items():
        reason = r["service"].reason
        assert not reason.startswith("500"), f"{cid}: {reason}"
        if "unsupported_feature" in reason:
            assert reason.startswith("422") and any(
                f in reason for f in ("algebraic rules", "delay()", "fast reactions")), f"{cid}: {reason}"
            assert not r["engine"].passed, f"{cid} is refused but the engine runs it: {reason}"
