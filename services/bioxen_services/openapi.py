"""OpenAPI 3.0 documents of the two services, built from small schema pieces."""

from __future__ import annotations

from . import __version__
from .validation import MAX_BOUND

NUM = {"type": "number"}
#: a number that becomes an LP bound (GLPK aborts on magnitudes near 1e308), and one that may not be negative
BOUND_NUM = {"type": "number", "minimum": -MAX_BOUND, "maximum": MAX_BOUND}
AMOUNT = {"type": "number", "minimum": 0, "maximum": MAX_BOUND}
STR = {"type": "string"}
STR_LIST = {"type": "array", "items": STR}
NUM_MAP = {"type": "object", "additionalProperties": NUM}
NUM_LIST = {"type": "array", "items": {"type": "number", "nullable": True}}
BOUNDS = {"type": "object", "additionalProperties": {"type": "array", "items": BOUND_NUM, "minItems": 2,
                                                     "maxItems": 2}}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": STR, "message": STR, "request_id": {"type": "string", "nullable": True},
                   "details": {"type": "object"}}}}}
MODEL_INFO = {"type": "object", "properties": {"id": STR, "sha256": STR}}


#: any JSON value; echoed back unchanged (phase-1 ``vm_id``, ``process_code``)
ANY = {"description": "any JSON value, echoed back"}
#: errors a compute operation can answer with (401 only when the service has a token)
COMPUTE_ERRORS = (400, 401, 404, 413, 415, 422, 503, 504)


def _model_id(ids: list[str] | None) -> dict:
    return {"type": "string", "enum": list(ids)} if ids else dict(STR)


def _model_ref(text_kinds: list[str], ids: list[str] | None) -> dict:
    props = {"id": _model_id(ids), "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}
    props.update({k: {"type": "string", "minLength": 1} for k in text_kinds})
    return {"description": "exactly one of: a shipped model id, inline text, or the sha256 of text sent "
                           "before; a bare string is taken as a shipped model id",
            "oneOf": [_model_id(ids), {"type": "object", "properties": props, "additionalProperties": False,
                                       "minProperties": 1, "maxProperties": 1}]}


def _op(summary: str, request: dict | None, response: dict, errors=COMPUTE_ERRORS, *,
        example: dict | None = None, body_required: bool = True, responses: dict | None = None) -> dict:
    op: dict = {"summary": summary, "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": response}}}}}
    for code in errors:
        op["responses"][str(code)] = {"description": "error", "content": {"application/json": {"schema": ERROR}}}
    for code, schema in (responses or {}).items():
        op["responses"][str(code)] = {"description": summary, "content": {"application/json": {"schema": schema}}}
    if request is not None:
        media: dict = {"schema": request}
        if example is not None:
            media["example"] = example
        op["requestBody"] = {"required": body_required, "content": {"application/json": media}}
    return op


def _obj(props: dict, required=(), additional=False) -> dict:
    schema = {"type": "object", "properties": props, "additionalProperties": additional}
    if required:
        schema["required"] = list(required)
    return schema


def _req(props: dict, required=(), additional=False) -> dict:
    """A request object. Optional fields also accept null, which the services read as "use the
    default" (``validation.get_*`` treats null like an absent field)."""
    props = {k: v if k in required or v is ANY else _nullable(v) for k, v in props.items()}
    return _obj(props, required, additional)


def _nullable(schema: dict) -> dict:
    schema = {**schema, "nullable": True}
    if "enum" in schema:  # JSON Schema checks enum apart from nullable
        schema["enum"] = [*schema["enum"], None]
    return schema


def _health_paths() -> dict:
    health = _obj({"status": STR, "service": STR}, additional=True)
    ready = {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}}
    return {
        "/health": {"get": _op("phase-1 health", None, health, errors=())},
        "/healthz": {"get": _op("liveness", None, health, errors=())},
        "/readyz": {"get": _op("readiness: shipped models loaded and not draining", None, ready, errors=(),
                               responses={503: ready})},
    }


def _static_paths(ids: list[str] | None) -> dict:
    changes = {"model": _model_ref(["sbml"], ids), "objective": STR, "bounds": BOUNDS,
               "medium": {"type": "object", "additionalProperties": AMOUNT},
               "knockouts": _req({"genes": STR_LIST, "reactions": STR_LIST})}
    fba_req = _req({**changes, "method": {"type": "string", "enum": ["fba", "pfba"]}, "fluxes": STR_LIST},
                   required=["model"])
    fba_resp = _obj({"status": STR, "objective_value": {"type": "number", "nullable": True},
                     "fluxes": NUM_MAP, "model": MODEL_INFO, "method": STR}, additional=True)
    fva_req = _req({**changes, "reactions": STR_LIST, "loopless": {"type": "boolean"},
                    "fraction_of_optimum": {"type": "number", "minimum": 0, "maximum": 1}},
                   required=["model"])
    fva_resp = _obj({"status": STR, "ranges": {"type": "object", "additionalProperties": _obj(
        {"minimum": NUM, "maximum": NUM})}, "model": MODEL_INFO}, additional=True)
    deletion_list = {"oneOf": [STR_LIST, {"type": "string", "enum": ["all"]}]}
    ko_req = _req({"model": changes["model"], "objective": STR, "bounds": BOUNDS, "medium": changes["medium"],
                   "genes": deletion_list, "reactions": deletion_list,
                   "sets": {"type": "array", "items": _req({"genes": STR_LIST, "reactions": STR_LIST})}},
                  required=["model"])
    ko_resp = _obj({"status": STR, "wild_type_growth": {"type": "number", "nullable": True},
                    "results": {"type": "array", "items": _obj(
                        {"id": STR, "genes": STR_LIST, "reactions": STR_LIST, "status": STR,
                         "growth": {"type": "number", "nullable": True}})}, "model": MODEL_INFO},
                   additional=True)
    phase1_req = _req({"chassis_type": STR, "objective": STR, "constraints": BOUNDS, "vm_id": ANY,
                       "process_code": ANY}, additional=True)
    phase1_resp = _obj({"computation_type": STR, "status": STR,
                        "optimal_objective": {"type": "number", "nullable": True},
                        "flux_state": NUM_MAP, "computation_service": STR, "model_key": STR,
                        "execution_result": STR}, additional=True)
    dfba_req = _req({"model": changes["model"], "biomass": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                     "concentrations": {"type": "object", "minProperties": 1,
                                        "additionalProperties": AMOUNT},
                     "uptake": {"type": "object", "additionalProperties": {"oneOf": [
                         _obj({"vmax": AMOUNT, "km": AMOUNT},
                              required=["vmax", "km"]),
                         _obj({"expression": {"type": "string", "maxLength": 500}}, required=["expression"])]}},
                     "start": NUM, "end": NUM, "points": {"type": "integer", "minimum": 2}, "fluxes": STR_LIST,
                     "objective": STR, "bounds": BOUNDS,
                     "max_step": {"type": "number", "exclusiveMinimum": True, "minimum": 0}},
                    required=["model", "biomass", "concentrations", "end"])
    dfba_resp = _obj({"time": NUM_LIST, "biomass": NUM_LIST, "growth_rate": NUM_LIST, "status": STR_LIST,
                      "concentrations": {"type": "object", "additionalProperties": NUM_LIST},
                      "fluxes": {"type": "object", "additionalProperties": NUM_LIST}, "objective": STR,
                      "solves": {"type": "integer"}, "max_step": NUM, "method": STR, "model": MODEL_INFO},
                     additional=True)
    return {
        "/compute/metabolic": {"post": _op("phase-1 FBA of a chassis' model", phase1_req, phase1_resp,
                                           body_required=False, example={"chassis_type": "ecoli",
                                                                         "vm_id": "ecoli_vm_1"})},
        "/v1/models": {"get": _op("shipped metabolic models", None, _obj({"models": {"type": "array"}}),
                                  errors=(401, 503))},
        "/v1/models/{model_id}": {"get": {**_op("one shipped model with medium and exchanges", None,
                                                 _obj({"id": STR}, additional=True), errors=(401, 404, 503)),
                                          "parameters": [{"name": "model_id", "in": "path", "required": True,
                                                          "schema": _model_id(ids)}]}},
        "/v1/fba": {"post": _op("FBA or parsimonious FBA", fba_req, fba_resp, example={
            "model": {"id": "e_coli_core"}, "bounds": {"EX_glc__D_e": [-5, 1000]}, "fluxes": ["PGI"]})},
        "/v1/fva": {"post": _op("flux variability analysis", fva_req, fva_resp, example={
            "model": {"id": "e_coli_core"}, "reactions": ["PGI", "PFK"], "fraction_of_optimum": 0.9})},
        "/v1/knockouts": {"post": _op("a batch of gene / reaction deletions", ko_req, ko_resp, example={
            "model": {"id": "e_coli_core"}, "genes": ["b1779"], "reactions": ["PFK"]})},
        "/v1/dfba": {"post": _op("dynamic FBA (batch culture)", dfba_req, dfba_resp)},
    }


#: what a bare species id means (dynamic service)
SPECIES_VALUES = {"type": "string", "enum": ["concentrations", "amounts"]}
POSITIVE = {"type": "number", "exclusiveMinimum": True, "minimum": 0}  # OpenAPI 3.0 form


def _dynamic_paths(ids: list[str] | None) -> dict:
    sim = {"model": _model_ref(["sbml", "antimony"], ids), "start": {"type": "number", "minimum": 0},
           "end": NUM, "points": {"type": "integer", "minimum": 2}, "selections": STR_LIST,
           "parameters": NUM_MAP,
           "initial_conditions": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
           "integrator": {"type": "string", "enum": ["cvode", "gillespie"]},
           "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
           "species_values": SPECIES_VALUES,
           "absolute_tolerance": POSITIVE, "relative_tolerance": POSITIVE}
    ensemble = {"repetitions": {"type": "integer", "minimum": 1}, "return_runs": {"type": "boolean"}}
    sim_resp = _obj({"time": NUM_LIST, "trajectories": {"type": "object", "additionalProperties": NUM_LIST},
                     "model": MODEL_INFO}, additional=True)
    ss_req = _req({"model": sim["model"], "parameters": NUM_MAP, "initial_conditions": sim["initial_conditions"],
                   "species_values": SPECIES_VALUES}, required=["model"])
    ss_resp = _obj({"steady_state": NUM_MAP, "reaction_rates": NUM_MAP, "model": MODEL_INFO}, additional=True)
    scan_req = _req({**sim, "grid": {"type": "object", "minProperties": 1, "additionalProperties": {
        "type": "array", "items": NUM, "minItems": 1}}, "output": {"type": "string", "enum": ["final", "trajectories"]}},
        required=["model", "grid"])
    scan_resp = _obj({"parameters": STR_LIST, "points": {"type": "array"}, "model": MODEL_INFO}, additional=True)
    phase1_req = _req({"kinetic_code": STR, "initial_conditions": sim["initial_conditions"],
                       "time_start": {"type": "number", "minimum": 0}, "time_end": NUM,
                       "time_points": {"type": "integer", "minimum": 2}, "vm_id": ANY, "process_code": ANY},
                      additional=True)
    phase1_resp = _obj({"computation_type": STR, "time_vector": NUM_LIST, "species_trajectories": {
        "type": "object", "additionalProperties": NUM_LIST}, "final_state": NUM_LIST,
        "computation_service": STR, "program_key": STR, "execution_result": STR}, additional=True)
    return {
        "/compute/kinetic": {"post": _op("phase-1 simulation of an Antimony program", phase1_req, phase1_resp,
                                         body_required=False, example={"time_end": 10, "time_points": 100})},
        "/v1/models": {"get": _op("shipped kinetic programs", None, _obj({"models": {"type": "array"}}),
                                  errors=(401, 503))},
        "/v1/models/{model_id}": {"get": {**_op("one shipped program", None, _obj({"id": STR}, additional=True),
                                                 errors=(401, 404, 503)),
                                          "parameters": [{"name": "model_id", "in": "path", "required": True,
                                                          "schema": _model_id(ids)}]}},
        "/v1/simulate": {"post": _op("time course (ODE or Gillespie)", _req({**sim, **ensemble}, required=["model"]), sim_resp,
                                      example={"model": {"id": "gene_expression"}, "end": 10, "points": 11})},
        "/v1/steady-state": {"post": _op("steady state", ss_req, ss_resp,
                                         example={"model": {"id": "gene_expression"}})},
        "/v1/scan": {"post": _op("parameter grid scan", scan_req, scan_resp, example={
            "model": {"id": "gene_expression"}, "grid": {"k_translation": [0.1, 0.2]}, "end": 10, "points": 11})},
    }


def document(service: str, model_ids: list[str] | None = None) -> dict:
    """The service's OpenAPI document; ``model_ids`` (the shipped models) become the ``id`` enum."""
    title = {"static": "BioXen static metabolic service (COBRApy)",
             "dynamic": "BioXen dynamic kinetic service (libRoadRunner)"}[service]
    paths = _health_paths()
    paths.update(_static_paths(model_ids) if service == "static" else _dynamic_paths(model_ids))
    return {"openapi": "3.0.3", "info": {"title": title, "version": __version__}, "paths": paths,
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}
