"""The OpenAPI 3.1 document of a service, generated from its operations (:mod:`.api.operations`): the
request and answer schemas are the pydantic declarations the routes validate with, so the document
and the service cannot drift."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import __version__
from .api.common import ErrorEnvelope
from .api.operations import ERROR_TEXT, Operation

TITLES = {"static": "BioXen static metabolic service (COBRApy)",
          "dynamic": "BioXen dynamic kinetic service (libRoadRunner)"}
DESCRIPTIONS = {
    "static": "Flux-balance analysis of shipped or inline SBML models: FBA and parsimonious FBA, flux "
              "variability, gene and reaction deletions, dynamic FBA of a batch culture; the flux-balance "
              "tasks of COMBINE archives (SED-ML). Fluxes are in mmol/gDW/h, growth rates in 1/h, "
              "concentrations in mM, biomass in gDW/L, time in h.",
    "dynamic": "Deterministic (CVODE) and stochastic (Gillespie) simulation, steady states and parameter "
               "scans of shipped programs or inline SBML / Antimony, and the SED-ML experiments of COMBINE "
               "archives, on libRoadRunner. Time is in the model's unit; species values are concentrations "
               "or amounts as species_values says.",
}
TAGS = {"computations": "engine computations (need the token when the service has one)",
        "jobs": "long computations: submitted, split into chunks run by workers, fetched later",
        "models": "the shipped models",
        "probes": "liveness, readiness and this document (always open)"}
REF = "#/components/schemas/{model}"


def _content(model: type[BaseModel], names: dict, example: dict | None = None) -> dict:
    media: dict = {"schema": names[model]}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def _binary(media_type: str, description: str) -> dict:
    """An OpenAPI 3.1 binary body: its bytes are the media type's (no JSON schema applies). ``format:
    binary`` (the OpenAPI 3.0 spelling) too, which generators read as a file."""
    return {"schema": {"type": "string", "format": "binary", "contentMediaType": media_type,
                       "description": description}}


def _request_content(op: Operation, names: dict) -> dict:
    content = _content(op.request, names, op.example)
    if op.upload is not None:
        upload = op.upload
        content[upload.media_type] = _binary(upload.media_type, upload.description)
        content["multipart/form-data"] = {
            "schema": {"type": "object", "required": [upload.field],
                       "properties": {upload.field: _binary(upload.media_type, upload.description)["schema"]}},
            "encoding": {upload.field: {"contentType": upload.media_type}}}
    return content


def _operation(op: Operation, names: dict, secured: bool) -> dict:
    out: dict = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        out["description"] = op.description
    if op.parameters:
        out["parameters"] = [{"name": name, "in": "path", "required": True, "description": text,
                              "schema": {"type": "string"}, "example": example}
                             for name, (text, example) in op.parameters.items()]
    if op.request is not None:
        out["requestBody"] = {"required": True, "content": _request_content(op, names)}
    answer = _content(op.answer, names)
    answer.update({media: _binary(media, text) for media, text in op.media.items()})
    responses = {str(op.status): {"description": "OK" if op.status == 200 else "Accepted", "content": answer}}
    for status, (text, model) in op.responses.items():
        responses[str(status)] = {"description": text, "content": _content(model, names)}
    for status in op.errors:
        if status == 401 and not (secured and op.secured):
            continue
        responses.setdefault(str(status), {"description": ERROR_TEXT[status],
                                           "content": _content(ErrorEnvelope, names)})
    out["responses"] = responses
    out["security"] = [{"bearer": []}] if secured and op.secured else []
    return out


def _enumerate_ids(schemas: dict, model_ids: list[str]) -> None:
    """The shipped ids as the enum of ``model.id`` (other ids answer 404 unknown_model)."""
    for name in ("MetabolicModel", "KineticModel"):
        spec = schemas.get(name)
        if spec is not None:
            spec["properties"]["id"]["anyOf"][0]["enum"] = list(model_ids)


def document(service: str, model_ids: list[str] | None = None, *, secured: bool = True) -> dict:
    """The service's OpenAPI 3.1 document; ``model_ids`` (the shipped models) become the ``id`` enum.
    ``secured``: whether the replica has a token (without one, no operation asks for it, as none checks)."""
    from .app import operations  # the blueprints import the engines' modules; only when asked

    ops = operations(service)
    models = {m for op in ops for m in (op.request, op.answer, *(r[1] for r in op.responses.values())) if m}
    models.add(ErrorEnvelope)
    ordered = sorted(models, key=lambda m: m.__name__)
    keys, defs = models_json_schema([(m, "validation") for m in ordered], ref_template=REF)
    names = {m: keys[(m, "validation")] for m in ordered}
    schemas = defs.get("$defs", {})
    if model_ids:
        _enumerate_ids(schemas, model_ids)
    paths: dict = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method] = _operation(op, names, secured)
        if model_ids and op.parameters:
            for param in paths[op.path][op.method]["parameters"]:
                if param["name"] == "model_id":
                    param["schema"]["enum"] = list(model_ids)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLES[service], "version": __version__, "description": DESCRIPTIONS[service]},
        "servers": [{"url": "/", "description": "this replica"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {"schemas": schemas, **({"securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "the service's token (BIOXEN_API_TOKEN_FILE)"}}} if secured else {})},
    }
