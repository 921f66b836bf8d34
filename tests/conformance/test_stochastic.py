"""The shared stochastic cases (DSMTS time courses, and distrib cases whose randomness comes from
random functions at events) through ``POST /v1/simulate`` with ``repetitions``, judged by the suite's
mean/sd rule, and each ensemble compared exactly with the same seeded runs of libRoadRunner in-process.

Every Gillespie case runs each time (as many repetitions as fit in about 1.5 s, at least 100, at most
1,000). A CVODE run of a distrib case costs about 60 ms, so a rotating eighth of them runs per day
(``BIOXEN_CONFORMANCE_ALL=1``: all of them, about 4 minutes more)."""

from __future__ import annotations

import datetime
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import suite
from support import ServiceProcess

pytestmark = pytest.mark.slow

#: cases that do not pass, with the reason (all 65 run at n = 100..1000, seed 1: the other 59 pass)
KNOWN_FAILURES = {
    "00003": "libRoadRunner in-process fails the sd statistic too (8-17 of 100 outside at n = 2,000, "
             "seeds 1 and 1001): a near-critical birth-death process, heavy-tailed variance estimates",
    "00028": "an event at t = 25 (an output time): Gillespie's fixed-step output reports the state before it",
    "00032": "an event at t = 25 (an output time): Gillespie's fixed-step output reports the state before it",
    "00049": "not judged: the suite gives no sd (Cauchy distribution)",
    "00059": "not judged: the suite gives no sd (Cauchy distribution)",
    "00064": "the suite gives ln(X) = 0 at t = 0, where X = 0 in every run (ln 0 = -inf): not judged there",
}


def selected(cases: list[suite.Case]) -> list[suite.Case]:
    gillespie = [c for c in cases if suite.stochastic_integrator(c) == "gillespie"]
    distrib = [c for c in cases if suite.stochastic_integrator(c) == "cvode"]
    if os.environ.get("BIOXEN_CONFORMANCE_ALL") != "1":
        day = datetime.date.today().toordinal()
        distrib = [c for i, c in enumerate(distrib) if i % 8 == day % 8]
    return gillespie + distrib


@pytest.fixture(scope="module")
def ensembles(suite_root):
    cases = selected(suite.cases(suite.STOCHASTIC))
    with ServiceProcess("dynamic", workers=2, preload="none") as dynamic, ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: (c, *suite.run_ensemble_service(c, dynamic.url)), cases))
    return results


def test_ensembles_pass_the_suite_criterion(ensembles):
    failed = [f"{c.id} (n={n}): {o.reason}" for c, o, n, _ in ensembles
              if not o.passed and c.id not in KNOWN_FAILURES]
    assert not failed, "\n".join(failed)
    passed = sum(o.passed for _, o, _, _ in ensembles)
    assert passed >= len(ensembles) - len(KNOWN_FAILURES)


def test_ensemble_is_the_seeded_engine_runs(ensembles):
    """The service's mean and sd for seed s are those of libRoadRunner runs seeded s, s+1, ..."""
    checked = 0
    for case, _, _, probe in ensembles:
        if probe is None or checked >= 12:
            continue
        mean, sd = suite.engine_ensemble(case, probe["repetitions"], probe["seed"])
        for v in case.variables:
            assert np.allclose(probe["mean"][v], mean[v], rtol=1e-12, atol=0), (case.id, v)
            assert np.allclose(probe["sd"][v], sd[v], rtol=1e-9, atol=1e-12), (case.id, v)
        checked += 1
    assert checked >= 10
