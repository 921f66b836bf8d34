"""dFBA uptake given as an expression of the state (issue 7: "Michaelis-Menten at least, optionally an
expression"), through the real service."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import requests

from bioxen_services.errors import ComputationFailed, ValidationError
from bioxen_services.static.dfba_uptake import parse_expression

BASE = {"model": {"id": "e_coli_core"}, "biomass": 0.05, "concentrations": {"EX_glc__D_e": 10, "EX_ac_e": 0},
        "end": 10, "points": 101}


def dfba(url: str, body: dict) -> requests.Response:
    return requests.post(url + "/v1/dfba", json=body, timeout=120)


def test_an_expression_equal_to_michaelis_menten_gives_the_same_culture(static_url):
    mm = dfba(static_url, {**BASE, "uptake": {"EX_glc__D_e": {"vmax": 10, "km": 0.015}}}).json()
    expr = dfba(static_url, {**BASE, "uptake": {"EX_glc__D_e": {"expression": "10 * S / (0.015 + S)"}}}).json()
    # the same kinetics; only the step control differs (an expression has no Km to scale steps by)
    assert np.allclose(expr["biomass"], mm["biomass"], rtol=5e-3)
    assert expr["biomass"][-1] == pytest.approx(0.923, abs=0.005)
    assert np.allclose(expr["concentrations"]["EX_glc__D_e"], mm["concentrations"]["EX_glc__D_e"], atol=0.05)


def test_glucose_repressed_acetate_uptake_gives_diauxic_growth(static_url):
    """Oxygen-limited growth secretes acetate; acetate uptake repressed by glucose starts only once the
    glucose is gone, so acetate first rises, then falls, and biomass keeps growing after glucose runs out."""
    body = {**BASE, "end": 12, "points": 121, "bounds": {"EX_o2_e": [-10, 1000]},
            "uptake": {"EX_glc__D_e": {"vmax": 10, "km": 0.015},
                       "EX_ac_e": {"expression": "3 * S / (0.5 + S) / (1 + EX_glc__D_e / 0.05)"}}}
    run = dfba(static_url, body)
    assert run.status_code == 200, run.text
    out = run.json()
    glucose = np.array(out["concentrations"]["EX_glc__D_e"])
    acetate = np.array(out["concentrations"]["EX_ac_e"])
    biomass = np.array(out["biomass"])
    gone = int(np.argmax(glucose < 1e-3))
    assert 0 < gone < len(glucose) - 1
    peak = int(np.argmax(acetate))
    assert acetate[peak] > 1.0 and abs(peak - gone) <= 3  # acetate peaks as glucose runs out
    assert acetate[-1] < 0.5 * acetate[peak]  # then it is taken up again
    assert biomass[-1] > biomass[gone] * 1.05  # growing on acetate


@pytest.mark.parametrize("expression, phrase", [
    ("__import__('os').system('id')", "not allowed"),
    ("S.real", "not allowed"),
    ("10 * glucose", "unknown name 'glucose'"),
    ("10 * S +", "not valid arithmetic"),
    ("lambda: 1", "not allowed"),
    ("[S][0]", "not allowed"),
    ("x" * 600, "longer than 500"),
])
def test_expressions_are_arithmetic_only(static_url, expression, phrase):
    r = dfba(static_url, {**BASE, "uptake": {"EX_glc__D_e": {"expression": expression}}})
    assert r.status_code == 400, r.text
    assert phrase in r.json()["error"]["message"]


def test_a_non_finite_rate_fails_the_run_clearly(static_url):
    r = dfba(static_url, {**BASE, "uptake": {"EX_glc__D_e": {"expression": "1 / (S - S)"}}})
    assert r.status_code == 422
    assert "uptake expression" in r.json()["error"]["message"]


def test_parsed_expression_evaluates_without_eval():
    uptake = parse_expression("max(0, 2 * S - X) + exp(0) - sqrt(4) + EX_ac_e ** 2", {"EX_ac_e"}, "t")
    assert uptake.rate(3.0, {"X": 1.0, "EX_ac_e": 0.5}) == pytest.approx(max(0, 6 - 1) + 1 - 2 + 0.25)
    assert uptake.rate(0.0, {"X": 1.0, "EX_ac_e": 0.5}) == 0.0  # nothing present, nothing taken up
    assert uptake.rate(1.0, {"X": 100.0, "EX_ac_e": 0.0}) == 0.0  # negative means no uptake
    with pytest.raises(ValidationError):
        parse_expression("open('/etc/passwd')", set(), "t")
    with pytest.raises(ComputationFailed):
        parse_expression("log(S - S)", set(), "t").rate(1.0, {"X": 1.0})


def test_a_parsed_expression_survives_pickling():
    """A parsed dFBA problem can be handed to another process: the expression travels as its text."""
    uptake = parse_expression("3 * S / (0.5 + S) / (1 + EX_glc__D_e / 0.05) + 0 * X", {"EX_glc__D_e", "EX_ac_e"}, "t")
    copy = pickle.loads(pickle.dumps(uptake))
    assert copy == uptake and copy.names == frozenset({"S", "X", "EX_glc__D_e"})
    env = {"X": 0.3, "EX_glc__D_e": 0.02}
    assert copy.rate(1.5, env) == uptake.rate(1.5, env) == pytest.approx(3 * 1.5 / 2.0 / 1.4)
    with pytest.raises(ComputationFailed, match=r"has no finite real value at S = 1, X = 0: 1 / X failed"):
        pickle.loads(pickle.dumps(parse_expression("1 / X", set(), "t"))).rate(1.0, {"X": 0.0})
