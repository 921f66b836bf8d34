"""OpenAPI 3.0 documents of the two services, built from small schema pieces."""

from __future__ import annotations

from . import __version__

NUM = {"type": "number"}
STR = {"type": "string"}
STR_LIST = {"type": "array", "items": STR}
NUM_MAP = {"type": "object", "additionalProperties": NUM}
NUM_LIST = {"type": "array", "items": {"type": "number", "nullable": True}}
BOUNDS = {"type": "object", "additionalProperties": {"type": "array", "items": NUM, "minItems": 2, "maxItems": 2}}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": STR, "message": STR, "request_id": {"type": "string", "nullable": True},
                   "details": {"type": "object"}}}}}
MODEL_INFO = {"type": "object", "properties": {"id": STR, "sha256": STR}}


def _model_ref(text_kinds: list[str]) -> dict:
    props = {"id": STR, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}
    props.update({k: STR for k in text_kinds})
    return {"type": "object", "description": "exactly one of: a shipped model id, inline text, or the "
            "sha256 of text sent before", "properties": props, "additionalProperties": False,
            "minProperties": 1, "maxProperties": 1}


def _op(summary: str, request: dict | None, response: dict, errors=(400, 404, 413, 422, 504)) -> dict:
    op: dict = {"summary": summary, "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": response}}}}}
    for code in errors:
        op["responses"][str(code)] = {"description": "error", "content": {"application/json": {"schema": ERROR}}}
    if request is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
    return op


def _obj(props: dict, required=(), additional=False) -> dict:
    schema = {"type": "object", "properties": props, "additionalProperties": additional}
    if required:
        schema["required"] = list(required)
    return schema


def _health_paths(service_name: str) -> dict:
    health = _obj({"status": STR, "service": STR}, additional=True)
    return {
        "/health": {"get": _op("phase-1 health", None, health, errors=())},
        "/healthz": {"get": _op("liveness", None, health, errors=())},
        "/readyz": {"get": _op("readiness: shipped models loaded", None,
                               _obj({"ready": {"type": "boolean"}}, additional=True), errors=(503,))},
    }


def _static_paths() -> dict:
    changes = {"model": _model_ref(["sbml"]), "objective": STR, "bounds": BOUNDS,
               "medium": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
               "knockouts": _obj({"genes": STR_LIST, "reactions": STR_LIST})}
    fba_req = _obj({**changes, "method": {"type": "string", "enum": ["fba", "pfba"]}, "fluxes": STR_LIST},
                   required=["model"])
    fba_resp = _obj({"status": STR, "objective_value": {"type": "number", "nullable": True},
                     "fluxes": NUM_MAP, "model": MODEL_INFO, "method": STR}, additional=True)
    fva_req = _obj({**changes, "reactions": STR_LIST, "loopless": {"type": "boolean"},
                    "fraction_of_optimum": {"type": "number", "minimum": 0, "maximum": 1}},
                   required=["model"])
    fva_resp = _obj({"status": STR, "ranges": {"type": "object", "additionalProperties": _obj(
        {"minimum": NUM, "maximum": NUM})}, "model": MODEL_INFO}, additional=True)
    deletion_list = {"oneOf": [STR_LIST, {"type": "string", "enum": ["all"]}]}
    ko_req = _obj({"model": changes["model"], "objective": STR, "bounds": BOUNDS, "medium": changes["medium"],
                   "genes": deletion_list, "reactions": deletion_list,
                   "sets": {"type": "array", "items": _obj({"genes": STR_LIST, "reactions": STR_LIST})}},
                  required=["model"])
    ko_resp = _obj({"status": STR, "wild_type_growth": {"type": "number", "nullable": True},
                    "results": {"type": "array", "items": _obj(
                        {"id": STR, "genes": STR_LIST, "reactions": STR_LIST, "status": STR,
                         "growth": {"type": "number", "nullable": True}})}, "model": MODEL_INFO},
                   additional=True)
    phase1_req = _obj({"chassis_type": STR, "objective": STR, "constraints": BOUNDS, "vm_id": STR,
                       "process_code": STR}, additional=True)
    phase1_resp = _obj({"computation_type": STR, "status": STR,
                        "optimal_objective": {"type": "number", "nullable": True},
                        "flux_state": NUM_MAP, "computation_service": STR, "model_key": STR,
                        "execution_result": STR}, additional=True)
    dfba_req = _obj({"model": changes["model"], "biomass": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                     "concentrations": {"type": "object", "minProperties": 1,
                                        "additionalProperties": {"type": "number", "minimum": 0}},
                     "uptake": {"type": "object", "additionalProperties": _obj(
                         {"vmax": {"type": "number", "minimum": 0}, "km": {"type": "number", "minimum": 0}},
                         required=["vmax", "km"])},
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
        "/compute/metabolic": {"post": _op("phase-1 FBA of a chassis' model", phase1_req, phase1_resp)},
        "/v1/models": {"get": _op("shipped metabolic models", None, _obj({"models": {"type": "array"}}),
                                  errors=(503,))},
        "/v1/models/{model_id}": {"get": {**_op("one shipped model with medium and exchanges", None,
                                                 _obj({"id": STR}, additional=True), errors=(404, 503)),
                                          "parameters": [{"name": "model_id", "in": "path", "required": True,
                                                          "schema": STR}]}},
        "/v1/fba": {"post": _op("FBA or parsimonious FBA", fba_req, fba_resp)},
        "/v1/fva": {"post": _op("flux variability analysis", fva_req, fva_resp)},
        "/v1/knockouts": {"post": _op("a batch of gene / reaction deletions", ko_req, ko_resp)},
        "/v1/dfba": {"post": _op("dynamic FBA (batch culture)", dfba_req, dfba_resp)},
    }


def _dynamic_paths() -> dict:
    sim = {"model": _model_ref(["sbml", "antimony"]), "start": {"type": "number", "minimum": 0},
           "end": NUM, "points": {"type": "integer", "minimum": 2}, "selections": STR_LIST,
           "parameters": NUM_MAP,
           "initial_conditions": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
           "integrator": {"type": "string", "enum": ["cvode", "gillespie"]},
           "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}
    sim_resp = _obj({"time": NUM_LIST, "trajectories": {"type": "object", "additionalProperties": NUM_LIST},
                     "model": MODEL_INFO}, additional=True)
    ss_req = _obj({"model": sim["model"], "parameters": NUM_MAP, "initial_conditions": sim["initial_conditions"]},
                  required=["model"])
    ss_resp = _obj({"steady_state": NUM_MAP, "reaction_rates": NUM_MAP, "model": MODEL_INFO}, additional=True)
    scan_req = _obj({**sim, "grid": {"type": "object", "minProperties": 1, "additionalProperties": {
        "type": "array", "items": NUM, "minItems": 1}}, "output": {"type": "string", "enum": ["final", "trajectories"]}},
        required=["model", "grid"])
    scan_resp = _obj({"parameters": STR_LIST, "points": {"type": "array"}, "model": MODEL_INFO}, additional=True)
    phase1_req = _obj({"kinetic_code": STR, "initial_conditions": sim["initial_conditions"],
                       "time_start": {"type": "number", "minimum": 0}, "time_end": NUM,
                       "time_points": {"type": "integer", "minimum": 2}, "vm_id": STR, "process_code": STR},
                      additional=True)
    phase1_resp = _obj({"computation_type": STR, "time_vector": NUM_LIST, "species_trajectories": {
        "type": "object", "additionalProperties": NUM_LIST}, "final_state": NUM_LIST,
        "computation_service": STR, "program_key": STR, "execution_result": STR}, additional=True)
    return {
        "/compute/kinetic": {"post": _op("phase-1 simulation of an Antimony program", phase1_req, phase1_resp)},
        "/v1/models": {"get": _op("shipped kinetic programs", None, _obj({"models": {"type": "array"}}),
                                  errors=(503,))},
        "/v1/models/{model_id}": {"get": {**_op("one shipped program", None, _obj({"id": STR}, additional=True),
                                                 errors=(404, 503)),
                                          "parameters": [{"name": "model_id", "in": "path", "required": True,
                                                          "schema": STR}]}},
        "/v1/simulate": {"post": _op("time course (ODE or Gillespie)", _obj(sim, required=["model"]), sim_resp)},
        "/v1/steady-state": {"post": _op("steady state", ss_req, ss_resp)},
        "/v1/scan": {"post": _op("parameter grid scan", scan_req, scan_resp)},
    }


def document(service: str) -> dict:
    title = {"static": "BioXen static metabolic service (COBRApy)",
             "dynamic": "BioXen dynamic kinetic service (libRoadRunner)"}[service]
    paths = _health_paths(service)
    paths.update(_static_paths() if service == "static" else _dynamic_paths())
    return {"openapi": "3.0.3", "info": {"title": title, "version": __version__}, "paths": paths,
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}
