"""The bad-input corpus (issue 6): every request below gets a 4xx JSON error envelope whose code and
message name the problem; after each, the same real service answers a valid request with the
value the in-process engine computes, and its worker processes are the same ones as before.

The services run with small limits (see ``reliability_helpers.LIMITS``): 2 MB bodies, 1000 time points,
50 scan points, 20 knockouts, JSON nesting 32.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import requests

from reliability_helpers import LIMITS, fba_growth, simulate_final
from support import engine_pids

MAX_BODY = int(LIMITS["BIOXEN_MAX_BODY_BYTES"])
ECOLI = {"id": "e_coli_core"}
GENE = {"id": "gene_expression"}
TRAP = "{TRAP}"  # replaced by the URL of a loopback HTTP server that records any fetch

ENTITY_BOMB = ('<?xml version="1.0"?><!DOCTYPE sbml [<!ENTITY a "aaaaaaaaaa">'
               + "".join(f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcdefgh", "bcdefghi"))
               + ']><sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">'
               '<model id="bomb" name="&i;"/></sbml>')
XXE_FILE = ('<?xml version="1.0"?><!DOCTYPE sbml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            '<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">'
            '<model id="xxe" name="&xxe;"/></sbml>')
XXE_HTTP = XXE_FILE.replace("file:///etc/passwd", TRAP + "/xxe.dtd")
COMP_EXTERNAL = (
    '<?xml version="1.0" encoding="UTF-8"?><sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" '
    'xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" level="3" version="1" '
    'comp:required="true"><model id="m"><comp:listOfSubmodels><comp:submodel comp:id="s" comp:modelRef="x"/>'
    '</comp:listOfSubmodels></model><comp:listOfExternalModelDefinitions><comp:externalModelDefinition '
    f'comp:id="x" comp:source="{TRAP}/external.xml" comp:modelRef="x"/></comp:listOfExternalModelDefinitions></sbml>')
#: ~1600 oscillations per time unit: CVODE gives up after mxstep (20,000) steps within one output interval
FAST_OSCILLATOR = "model fast\n x' = w*y\n y' = -w*x\n x = 1\n y = 0\n w = 10000\nend\n"
NOT_CLOSED = '<?xml version="1.0"?><sbml xmlns="http://www.sbml.org/sbml/level3/version1/core"><model id="x">'


def fbc_model(model_id: str, reactions: dict[str, tuple[dict[str, int], str, str]], objective: str) -> str:
    """A small SBML L3 fbc v2 model: ``{reaction: ({species: coefficient}, lower, upper)}``, bounds as
    SBML numbers ("-INF" and "INF" allowed), maximizing the flux of ``objective``."""
    species = sorted({m for stoichiometry, _, _ in reactions.values() for m in stoichiometry})
    params, rxns = [], []
    for rid, (stoichiometry, lower, upper) in reactions.items():
        params += [f'<parameter id="{rid}_{side}" value="{value}" constant="true" sboTerm="SBO:0000625"/>'
                   for side, value in (("lb", lower), ("ub", upper))]
        refs = {side: "".join(f'<speciesReference species="{m}" stoichiometry="{abs(c)}" constant="true"/>'
                              for m, c in stoichiometry.items() if (c < 0) == (side == "Reactants"))
                for side in ("Reactants", "Products")}
        rxns.append(f'<reaction id="{rid}" reversible="{str(lower.startswith("-")).lower()}" fast="false" '
                    f'fbc:lowerFluxBound="{rid}_lb" fbc:upperFluxBound="{rid}_ub">'
                    + "".join(f"<listOf{side}>{text}</listOf{side}>" for side, text in refs.items() if text)
                    + "</reaction>")
    return ('<?xml version="1.0" encoding="UTF-8"?><sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" '
            'xmlns:fbc="http://www.sbml.org/sbml/level3/version1/fbc/version2" level="3" version="1" '
            f'fbc:required="false"><model id="{model_id}" fbc:strict="true">'
            '<listOfCompartments><compartment id="c" constant="true"/></listOfCompartments><listOfSpecies>'
            + "".join(f'<species id="{m}" compartment="c" hasOnlySubstanceUnits="false" boundaryCondition="false" '
                      'constant="false"/>' for m in species)
            + f'</listOfSpecies><listOfParameters>{"".join(params)}</listOfParameters>'
            f'<listOfReactions>{"".join(rxns)}</listOfReactions>'
            '<fbc:listOfObjectives fbc:activeObjective="obj"><fbc:objective fbc:id="obj" fbc:type="maximize">'
            f'<fbc:listOfFluxObjectives><fbc:fluxObjective fbc:reaction="{objective}" fbc:coefficient="1"/>'
            '</fbc:listOfFluxObjectives></fbc:objective></fbc:listOfObjectives></model></sbml>')


#: growth is bounded by the uptake of A, but A <-> B <-> A is a loop with infinite bounds: FBA is optimal,
#: every FVA sub-problem on the loop is unbounded
UNBOUNDED_LOOP = fbc_model("unbounded_loop", {
    "EX_A": ({"A": -1}, "-10", "1000"), "GROW": ({"A": -1}, "0", "1000"),
    "LOOP_AB": ({"A": -1, "B": 1}, "-INF", "INF"), "LOOP_BA": ({"B": -1, "A": 1}, "-INF", "INF")}, "GROW")
#: a reaction whose lower bound is above its upper bound in the model text
REVERSED_BOUNDS = fbc_model("reversed_bounds", {
    "EX_A": ({"A": -1}, "-10", "1000"), "GROW": ({"A": -1}, "5", "1")}, "GROW")
#: a bound near the largest float, which aborts GLPK's simplex (Assertion failed: teta >= 0.0)
HUGE_BOUNDS = fbc_model("huge_bounds", {
    "EX_A": ({"A": -1}, "-1e308", "1000"), "GROW": ({"A": -1}, "0", "1000")}, "GROW")


def gzip_bomb() -> bytes:
    """About 200 KB of gzip that inflates to 200 MB, 100x the body limit."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"0" * (1 << 20)
    return b"".join(deflate.compress(chunk) for _ in range(200)) + deflate.flush()


def nested(levels: int) -> bytes:
    return b'{"model": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b"}"


@dataclass
class Case:
    id: str
    path: str
    body: Any  # JSON-able, raw bytes, or a callable returning bytes
    status: int
    code: str
    phrase: str
    headers: dict = field(default_factory=dict)
    must_not_contain: tuple[str, ...] = ()

    def payload(self, trap_url: str) -> bytes:
        body = self.body() if callable(self.body) else self.body
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        return body.replace(TRAP.encode(), trap_url.encode())


def fba(**fields) -> dict:
    return {"model": ECOLI, **fields}


def sim(**fields) -> dict:
    return {"model": GENE, **fields}


def dfba(**fields) -> dict:
    return {"model": ECOLI, "biomass": 0.05, "concentrations": {"EX_glc__D_e": 10}, "end": 1, "points": 3,
            **fields}


def uptake(expression: str) -> dict:
    return dfba(uptake={"EX_glc__D_e": {"expression": expression}})


PAST_BOUND = "past the limit of 1e+30"  # validation.MAX_BOUND: GLPK aborts on bounds near 1e308


STATIC = [
    Case("malformed_json", "/v1/fba", b'{"model": {"id": "e_coli_core"', 400, "invalid_json", "not valid JSON"),
    Case("not_utf8", "/v1/fba", b'{"model": "\xff\xfe"}', 400, "invalid_json", "not valid JSON"),
    Case("body_not_object", "/v1/fba", b"[1, 2]", 400, "invalid_request", "must be a JSON object"),
    Case("wrong_type_objective", "/v1/fba", fba(objective=5), 400, "invalid_request", "objective must be a string"),
    Case("wrong_type_model", "/v1/fba", {"model": 42}, 400, "invalid_request", "model must be an object"),
    Case("wrong_type_bounds", "/v1/fba", fba(bounds={"EX_glc__D_e": "low"}), 400, "invalid_request",
         "must be a pair"),
    Case("wrong_type_fluxes", "/v1/fba", fba(fluxes="PGI"), 400, "invalid_request", "array of strings"),
    Case("wrong_method", "/v1/fba", fba(method="pfbaz"), 400, "invalid_request", "method must be one of"),
    Case("unknown_field", "/v1/fba", fba(objectiv="PGI"), 400, "invalid_request", "unknown field(s) ['objectiv']"),
    Case("missing_model", "/v1/fba", {}, 400, "invalid_request", "missing required field 'model'"),
    Case("empty_body", "/v1/fva", b"", 400, "invalid_request", "missing required field 'model'"),
    Case("unknown_model_id", "/v1/fba", {"model": {"id": "no_such_model"}}, 404, "unknown_model",
         "unknown model id 'no_such_model'"),
    Case("unknown_reaction_bounds", "/v1/fba", fba(bounds={"NOT_A_REACTION": [0, 1]}), 400, "unknown_reaction",
         "NOT_A_REACTION"),
    Case("unknown_reaction_objective", "/v1/fba", fba(objective="NOT_A_REACTION"), 400, "unknown_reaction",
         "NOT_A_REACTION"),
    Case("unknown_reaction_fva", "/v1/fva", fba(reactions=["PGI", "NOT_A_REACTION"]), 400, "unknown_reaction",
         "NOT_A_REACTION"),
    Case("unknown_gene", "/v1/fba", fba(knockouts={"genes": ["b9999"]}), 400, "unknown_gene", "b9999"),
    Case("unknown_gene_knockouts", "/v1/knockouts", fba(genes=["b9999"]), 400, "unknown_gene", "b9999"),
    Case("medium_not_exchange", "/v1/fba", fba(medium={"PGI": 10}), 400, "invalid_request",
         "not exchange (boundary) reactions"),
    Case("lb_above_ub", "/v1/fba", fba(bounds={"EX_glc__D_e": [5, -5]}), 400, "invalid_request",
         "lower bound 5 is above upper bound -5"),
    Case("nan_literal", "/v1/fba", b'{"model": {"id": "e_coli_core"}, "bounds": {"EX_glc__D_e": [NaN, 10]}}',
         400, "invalid_json", "NaN is not valid JSON"),
    Case("infinity_literal", "/v1/fba", b'{"model": {"id": "e_coli_core"}, "medium": {"EX_glc__D_e": Infinity}}',
         400, "invalid_json", "Infinity is not valid JSON"),
    Case("minus_infinity_literal", "/v1/fba",
         b'{"model": {"id": "e_coli_core"}, "bounds": {"EX_glc__D_e": [-Infinity, 0]}}',
         400, "invalid_json", "-Infinity is not valid JSON"),
    Case("overflowing_number", "/v1/fba", b'{"model": {"id": "e_coli_core"}, "bounds": {"EX_glc__D_e": [1e999, 0]}}',
         400, "invalid_request", "must be a finite number"),
    Case("bound_near_float_max", "/v1/fba", fba(bounds={"EX_glc__D_e": [-1e308, 1000]}), 400, "invalid_request",
         f"bounds['EX_glc__D_e'] lower bound is -1e+308, {PAST_BOUND}"),
    Case("bound_near_float_max_phase1", "/compute/metabolic", {"constraints": {"EX_glc__D_e": [-1e308, 1000]}},
         400, "invalid_request", f"constraints['EX_glc__D_e'] lower bound is -1e+308, {PAST_BOUND}"),
    Case("bound_near_float_max_knockouts", "/v1/knockouts",
         fba(genes=["b0008"], bounds={"EX_glc__D_e": [-1e308, 1000]}), 400, "invalid_request",
         f"bounds['EX_glc__D_e'] lower bound is -1e+308, {PAST_BOUND}"),
    Case("upper_bound_past_limit", "/v1/fva", fba(bounds={"EX_glc__D_e": [-10, 2e30]}), 400, "invalid_request",
         f"bounds['EX_glc__D_e'] upper bound is 2e+30, {PAST_BOUND}"),
    Case("medium_near_float_max", "/v1/fba", fba(medium={"EX_glc__D_e": 1e308}), 400, "invalid_request",
         f"medium['EX_glc__D_e'] is 1e+308, {PAST_BOUND}"),
    Case("negative_medium", "/v1/fba", fba(medium={"EX_glc__D_e": -10}), 400, "invalid_request", "at least 0"),
    Case("fraction_above_one", "/v1/fva", fba(fraction_of_optimum=1.5), 400, "invalid_request", "at most 1"),
    Case("fva_unbounded_loop", "/v1/fva", {"model": {"sbml": UNBOUNDED_LOOP}}, 422, "computation_failed",
         "flux variability analysis of model 'unbounded_loop' failed: Solver status is 'unbounded'"),
    Case("sbml_lower_bound_above_upper", "/v1/fba", {"model": {"sbml": REVERSED_BOUNDS}}, 400, "invalid_model",
         "could not be read: reaction 'GROW' has lower bound 5 above upper bound 1"),
    Case("sbml_bound_near_float_max", "/v1/fba", {"model": {"sbml": HUGE_BOUNDS}}, 400, "invalid_model",
         f"flux bounds {PAST_BOUND} (the LP solver fails on numbers near 1e308; use INF for no bound): "
         "'EX_A' (-1e+308, 1000)"),
    Case("dfba_bound_near_float_max", "/v1/dfba", dfba(bounds={"EX_o2_e": [-1e308, 1000]}), 400,
         "invalid_request", f"bounds['EX_o2_e'] lower bound is -1e+308, {PAST_BOUND}"),
    Case("dfba_concentration_near_float_max", "/v1/dfba", dfba(concentrations={"EX_glc__D_e": 1e308}), 400,
         "invalid_request", f"concentrations['EX_glc__D_e'] is 1e+308, {PAST_BOUND}"),
    Case("dfba_vmax_near_float_max", "/v1/dfba", dfba(uptake={"EX_glc__D_e": {"vmax": 1e308, "km": 1}}), 400,
         "invalid_request", f"uptake['EX_glc__D_e'].vmax is 1e+308, {PAST_BOUND}"),
    Case("dfba_expression_400_digits", "/v1/dfba", uptake("1" * 400), 400, "invalid_request",
         "uptake['EX_glc__D_e']: the number 1111111111111111111111111111111111111111... (400 characters) "
         "is too large"),
    Case("dfba_expression_infinite_literal", "/v1/dfba", uptake("1e999 * S"), 400, "invalid_request",
         "the number 1e999 is not a finite number"),
    Case("dfba_expression_min_one_argument", "/v1/dfba", uptake("min(S)"), 400, "invalid_request",
         "min() takes at least 2 arguments, got 1: min(S)"),
    Case("dfba_expression_exp_two_arguments", "/v1/dfba", uptake("exp(S, X)"), 400, "invalid_request",
         "exp() takes exactly 1 argument, got 2: exp(S, X)"),
    Case("dfba_expression_log_three_arguments", "/v1/dfba", uptake("log(S, 2, 3)"), 400, "invalid_request",
         "log() takes 1 to 2 arguments, got 3"),
    Case("dfba_expression_complex_value", "/v1/dfba", uptake("min((-S)**0.5, 1)"), 422, "computation_failed",
         "uptake expression 'min((-S)**0.5, 1)' has no finite real value at S = 10: (-S) ** 0.5 failed"),
    Case("dfba_expression_overflow", "/v1/dfba", uptake("exp(S * 100)"), 422, "computation_failed",
         "exp(S * 100) failed (math range error)"),
    Case("knockouts_past_limit", "/v1/knockouts", fba(genes="all"), 422, "limit_exceeded",
         "exceed the limit of 20"),
    Case("knockouts_nothing", "/v1/knockouts", fba(), 400, "invalid_request", "no deletions given"),
    Case("two_model_kinds", "/v1/fba", {"model": {"id": "e_coli_core", "sbml": "<sbml/>"}}, 400,
         "invalid_request", "exactly one of"),
    Case("sha256_not_cached", "/v1/fba", {"model": {"sha256": "0" * 64}}, 404, "model_not_cached",
         "send the model text inline"),
    Case("sha256_malformed", "/v1/fba", {"model": {"sha256": "xyz"}}, 400, "invalid_request",
         "64 lowercase hexadecimal"),
    Case("model_path", "/v1/fba", {"model_path": "/etc/passwd"}, 400, "model_path_not_allowed",
         "never read from a server path"),
    Case("model_path_nested", "/v1/fva", {"model": {"path": "/etc/passwd"}}, 400, "model_path_not_allowed",
         "never read from a server path"),
    Case("model_path_phase1", "/compute/metabolic", {"model_path": "/etc/passwd"}, 400, "model_path_not_allowed",
         "never read from a server path"),
    Case("unknown_chassis_phase1", "/compute/metabolic", {"chassis_type": "martian"}, 400, "invalid_request",
         "martian"),
    Case("sbml_is_server_path", "/v1/fba", {"model": {"sbml": "/etc/passwd"}}, 400, "invalid_model",
         "never as paths", must_not_contain=("root:",)),
    Case("sbml_not_xml", "/v1/fba", {"model": {"sbml": "this is not XML"}}, 400, "invalid_model",
         "must be an XML document"),
    Case("sbml_broken_xml", "/v1/fba", {"model": {"sbml": NOT_CLOSED}}, 400, "invalid_model", "could not be read"),
    Case("sbml_entity_bomb", "/v1/fba", {"model": {"sbml": ENTITY_BOMB}}, 400, "invalid_model",
         "DOCTYPE or ENTITY declaration is refused"),
    Case("sbml_external_entity_file", "/v1/fba", {"model": {"sbml": XXE_FILE}}, 400, "invalid_model",
         "DOCTYPE or ENTITY declaration is refused", must_not_contain=("root:",)),
    Case("sbml_external_entity_http", "/v1/fba", {"model": {"sbml": XXE_HTTP}}, 400, "invalid_model",
         "DOCTYPE or ENTITY declaration is refused"),
    Case("sbml_comp_external_model", "/v1/fba", {"model": {"sbml": COMP_EXTERNAL}}, 400, "invalid_model",
         "externalModelDefinition is refused"),
    Case("sbml_nul", "/v1/fba", {"model": {"sbml": "<\x00?\x00x\x00m\x00l\x00"}}, 400, "invalid_model", "NUL"),
    Case("body_past_limit", "/v1/fba", lambda: b" " * (MAX_BODY + 1), 413, "payload_too_large",
         f"exceeds the limit of {MAX_BODY} bytes"),
    Case("gzip_past_limit", "/v1/fba", lambda: gzip.compress(os.urandom(MAX_BODY + 1024), 1), 413,
         "payload_too_large", f"exceeds the limit of {MAX_BODY} bytes", headers={"Content-Encoding": "gzip"}),
    Case("gzip_bomb", "/v1/fba", gzip_bomb, 413, "payload_too_large",
         f"expands past the limit of {MAX_BODY} bytes", headers={"Content-Encoding": "gzip"}),
    Case("gzip_invalid", "/v1/fba", b"this is not gzip", 400, "invalid_json", "not valid gzip",
         headers={"Content-Encoding": "gzip"}),
    Case("encoding_unsupported", "/v1/fba", b"{}", 415, "unsupported_media_type", "'br' is not supported",
         headers={"Content-Encoding": "br"}),
    Case("json_nested_past_recursion", "/v1/fba", lambda: nested(100_000), 400, "invalid_json",
         "nests deeper than 32 levels"),
    Case("json_nested_past_limit", "/v1/fba", lambda: nested(40), 400, "invalid_json", "nests deeper than 32 levels"),
]

SCAN_GRID_PAST_LIMIT = {"k_transcription": [0.1 * i for i in range(1, 11)],
                        "k_translation": [0.1 * i for i in range(1, 11)]}  # 100 points, limit 50
DYNAMIC = [
    Case("malformed_json", "/v1/simulate", b'{"model": ', 400, "invalid_json", "not valid JSON"),
    Case("wrong_type_points", "/v1/simulate", sim(points="many"), 400, "invalid_request",
         "points must be a number, got string"),
    Case("fractional_points", "/v1/simulate", sim(points=10.5), 400, "invalid_request", "whole number"),
    Case("wrong_integrator", "/v1/simulate", sim(integrator="euler"), 400, "invalid_request",
         "integrator must be one of"),
    Case("missing_model", "/v1/simulate", {"end": 10}, 400, "invalid_request", "missing required field 'model'"),
    Case("missing_grid", "/v1/scan", sim(), 400, "invalid_request", "missing required field 'grid'"),
    Case("unknown_model_id", "/v1/simulate", {"model": {"id": "no_such_program"}}, 404, "unknown_model",
         "unknown model id 'no_such_program'"),
    Case("unknown_species", "/v1/simulate", sim(initial_conditions={"no_such_species": 1}), 400,
         "unknown_species", "no_such_species"),
    Case("unknown_parameter", "/v1/simulate", sim(parameters={"no_such_parameter": 1}), 400,
         "unknown_parameter", "no_such_parameter"),
    Case("unknown_selection", "/v1/simulate", sim(selections=["no_such_thing"]), 400, "unknown_selection",
         "no_such_thing"),
    Case("unknown_parameter_steady_state", "/v1/steady-state", sim(parameters={"no_such_parameter": 1}), 400,
         "unknown_parameter", "no_such_parameter"),
    Case("negative_start", "/v1/simulate", sim(start=-5, end=10), 400, "invalid_request",
         "start must be at least 0"),
    Case("reversed_span", "/v1/simulate", sim(start=10, end=1), 400, "invalid_request", "must be after start"),
    Case("empty_span", "/v1/simulate", sim(start=3, end=3), 400, "invalid_request", "must be after start"),
    Case("one_point", "/v1/simulate", sim(points=1), 400, "invalid_request", "points must be at least 2"),
    Case("negative_initial_condition", "/v1/simulate", sim(initial_conditions={"mRNA": -1}), 400,
         "invalid_request", "at least 0"),
    Case("time_points_past_limit", "/v1/simulate", sim(points=1001), 422, "limit_exceeded",
         "1001 time points exceed the limit of 1000"),
    Case("scan_grid_past_limit", "/v1/scan", sim(grid=SCAN_GRID_PAST_LIMIT), 422, "limit_exceeded",
         "more than 50 points"),
    Case("scan_grid_empty", "/v1/scan", sim(grid={}), 400, "invalid_request", "at least one parameter"),
    Case("scan_grid_unknown_parameter", "/v1/scan", sim(grid={"no_such_parameter": [1, 2]}), 400,
         "unknown_parameter", "no_such_parameter"),
    Case("scan_grid_not_numbers", "/v1/scan", sim(grid={"k_translation": ["a"]}), 400, "invalid_request",
         "must be a number"),
    Case("nan_literal", "/v1/simulate", b'{"model": {"id": "gene_expression"}, "parameters": {"k_translation": NaN}}',
         400, "invalid_json", "NaN is not valid JSON"),
    Case("overflowing_number", "/v1/simulate", b'{"model": {"id": "gene_expression"}, "end": 1e999}', 400,
         "invalid_request", "end must be a finite number"),
    Case("antimony_syntax_error", "/v1/simulate", {"model": {"antimony": "model m\n S1 -> ; k1*\nend"}}, 400,
         "invalid_model", "Antimony syntax error"),
    Case("antimony_import_server_file", "/v1/simulate",
         {"model": {"antimony": 'import "/etc/passwd"\nmodel m\n S1 -> ; k*S1; k = 1; S1 = 1\nend'}}, 400,
         "invalid_model", "'import' statements are refused", must_not_contain=("root",)),
    Case("sbml_is_server_path", "/v1/simulate", {"model": {"sbml": "/etc/passwd"}}, 400, "invalid_model",
         "never as paths", must_not_contain=("root:",)),
    Case("sbml_broken_xml", "/v1/simulate", {"model": {"sbml": NOT_CLOSED}}, 400, "invalid_model",
         "could not be read"),
    Case("sbml_entity_bomb", "/v1/simulate", {"model": {"sbml": ENTITY_BOMB}}, 400, "invalid_model",
         "DOCTYPE or ENTITY declaration is refused"),
    Case("sbml_external_entity_file", "/v1/simulate", {"model": {"sbml": XXE_FILE}}, 400, "invalid_model",
         "DOCTYPE or ENTITY declaration is refused", must_not_contain=("root:",)),
    Case("sbml_external_entity_http", "/v1/steady-state", {"model": {"sbml": XXE_HTTP}}, 400, "invalid_model",
         "DOCTYPE or ENTITY declaration is refused"),
    Case("sbml_comp_external_model", "/v1/simulate", {"model": {"sbml": COMP_EXTERNAL}}, 400, "invalid_model",
         "externalModelDefinition is refused"),
    Case("integrator_too_much_work", "/v1/simulate", {"model": {"antimony": FAST_OSCILLATOR}, "end": 1, "points": 2},
         422, "computation_failed", "CV_TOO_MUCH_WORK"),
    Case("model_path", "/v1/simulate", {"model_path": "/etc/passwd"}, 400, "model_path_not_allowed",
         "never read from a server path"),
    Case("model_path_phase1", "/compute/kinetic", {"model_path": "/etc/passwd"}, 400, "model_path_not_allowed",
         "never read from a server path"),
    Case("kinetic_code_is_server_path", "/compute/kinetic", {"kinetic_code": "/etc/passwd"}, 400, "invalid_model",
         "Antimony syntax error", must_not_contain=("root",)),
    Case("kinetic_code_import", "/compute/kinetic", {"kinetic_code": 'import "/etc/passwd"'}, 400, "invalid_model",
         "'import' statements are refused", must_not_contain=("root",)),
    Case("kinetic_code_external_entity", "/compute/kinetic", {"kinetic_code": XXE_HTTP}, 400, "invalid_model",
         "DOCTYPE or ENTITY declaration is refused"),
    Case("time_points_past_limit_phase1", "/compute/kinetic", {"time_points": 5000}, 422, "limit_exceeded",
         "exceed the limit of 1000"),
    Case("reversed_span_phase1", "/compute/kinetic", {"time_start": 10, "time_end": 1}, 400, "invalid_request",
         "must be after start"),
    Case("body_past_limit", "/v1/simulate", lambda: b" " * (MAX_BODY + 1), 413, "payload_too_large",
         f"exceeds the limit of {MAX_BODY} bytes"),
    Case("gzip_bomb", "/v1/simulate", gzip_bomb, 413, "payload_too_large",
         f"expands past the limit of {MAX_BODY} bytes", headers={"Content-Encoding": "gzip"}),
    Case("json_nested_past_recursion", "/v1/scan", lambda: nested(100_000), 400, "invalid_json",
         "nests deeper than 32 levels"),
]


def _send(url: str, case: Case, trap_url: str) -> requests.Response:
    headers = {"Content-Type": "application/json", **case.headers}
    return requests.post(url + case.path, data=case.payload(trap_url), headers=headers, timeout=60)


def _check_error(resp: requests.Response, case: Case) -> None:
    assert resp.status_code == case.status, resp.text[:500]
    assert resp.headers["Content-Type"].startswith("application/json")
    error = resp.json()["error"]
    assert error["code"] == case.code, error
    assert case.phrase.lower() in error["message"].lower(), error["message"]
    assert error["request_id"] == resp.headers["X-Request-ID"]
    for secret in case.must_not_contain:
        assert secret not in resp.text


@pytest.fixture(scope="module")
def static_workers(limited_static) -> set[int]:
    pids = engine_pids(limited_static.proc.pid)
    assert len(pids) == 3  # the template and two engines
    return pids


@pytest.fixture(scope="module")
def dynamic_workers(limited_dynamic) -> set[int]:
    pids = engine_pids(limited_dynamic.proc.pid)
    assert len(pids) == 3
    return pids


@pytest.mark.parametrize("case", STATIC, ids=lambda c: c.id)
def test_static_bad_input(case, limited_static, static_workers, ecoli_growth, web_trap):
    _check_error(_send(limited_static.url, case, web_trap.url), case)
    assert fba_growth(limited_static.url) == pytest.approx(ecoli_growth, rel=1e-9)
    assert round(ecoli_growth, 6) == 0.873922
    assert engine_pids(limited_static.proc.pid) == static_workers, "an engine process was replaced"
    assert web_trap.hits == [], "the service fetched a URL named in a model"


@pytest.mark.parametrize("case", DYNAMIC, ids=lambda c: c.id)
def test_dynamic_bad_input(case, limited_dynamic, dynamic_workers, gene_expression_final, web_trap):
    _check_error(_send(limited_dynamic.url, case, web_trap.url), case)
    final = simulate_final(limited_dynamic.url)
    assert final == pytest.approx(gene_expression_final, rel=1e-9)
    assert round(final["mRNA"], 6) == 0.367166 and round(final["protein"], 6) == 0.487050
    assert engine_pids(limited_dynamic.proc.pid) == dynamic_workers, "an engine process was replaced"
    assert web_trap.hits == [], "the service fetched a URL named in a model"


def test_chunked_body_past_limit(limited_static, static_workers):
    """A body without Content-Length (chunked) is refused past the limit too (the front reads it whole, up
    to the limit and 1 MiB, and counts it; far past that it stops reading)."""
    chunk = b" " * 65536
    resp = requests.post(limited_static.url + "/v1/fba", data=(chunk for _ in range(MAX_BODY // len(chunk) + 2)),
                         headers={"Content-Type": "application/json"}, timeout=60)
    _check_error(resp, Case("chunked", "/v1/fba", b"", 413, "payload_too_large",
                                f"exceeds the limit of {MAX_BODY} bytes"))
    assert engine_pids(limited_static.proc.pid) == static_workers


def test_bounds_up_to_the_limit_are_accepted(limited_static, ecoli_growth):
    """1e30 is the limit itself: a bound that large computes (it binds nothing), one just past it does not."""
    resp = requests.post(limited_static.url + "/v1/fba", timeout=60, json=fba(
        bounds={"EX_glc__D_e": [-10, 1e30], "ATPM": [8.39, 1e30]}, fluxes=[]))
    assert resp.status_code == 200, resp.text
    assert resp.json()["objective_value"] == pytest.approx(ecoli_growth, rel=1e-9)
    resp = requests.post(limited_static.url + "/v1/fba", timeout=60, json=fba(bounds={"ATPM": [8.39, 1.0001e30]}))
    assert resp.status_code == 400 and PAST_BOUND in resp.json()["error"]["message"], resp.text


def test_inline_model_still_accepted(limited_static, ecoli_growth):
    """The checks refuse what they must and no more: the shipped SBML sent inline computes."""
    from support import MODELS

    resp = requests.post(limited_static.url + "/v1/fba", timeout=60, json={
        "model": {"sbml": MODELS["e_coli_core"].read_text()}, "fluxes": []})
    assert resp.status_code == 200, resp.text
    assert resp.json()["objective_value"] == pytest.approx(ecoli_growth, rel=1e-9)
