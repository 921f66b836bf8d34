"""Each request and answer is declared once (services/bioxen_services/api): the routes validate with
those declarations, the OpenAPI document is generated from them, and real answers conform to them.

These tests walk the Flask routes and the document and find them identical; send every operation's
documented example to a real service and validate the real answer against the document's schema
(jsonschema, draft 2020-12, as OpenAPI 3.1 says); and check that the VM client only ever sends fields
the declarations accept.
"""

from __future__ import annotations

import jsonschema
import pytest
import requests

from bioxen_services import openapi
from bioxen_services.api.jobs import KINDS
from bioxen_services.app import create_app, operations
from bioxen_services.settings import Settings

#: served routes that are not JSON operations: Prometheus text, the document itself, its docs page
NOT_OPERATIONS = {"/metrics", "/openapi.json", "/docs", "/static/<path:filename>"}


def _app(service: str):
    return create_app(service, Settings.from_env())


def _schema(doc: dict, ref_or_schema: dict) -> dict:
    """A schema with ``$ref`` resolvable against the whole document."""
    return {**ref_or_schema, "$defs": doc["components"]["schemas"]} if "$ref" not in ref_or_schema else {
        "$ref": ref_or_schema["$ref"].replace("#/components/schemas/", "#/$defs/"),
        "$defs": {k: _rebase(v) for k, v in doc["components"]["schemas"].items()}}


def _rebase(node):
    if isinstance(node, dict):
        return {k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _rebase(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


@pytest.mark.parametrize("service", ["static", "dynamic"])
def test_routes_and_document_are_the_same_operations(service):
    app = _app(service)
    doc = openapi.document(service, app.extensions["bioxen"].model_ids())
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.rule in NOT_OPERATIONS or rule.endpoint.startswith("docs"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served[(path, method.lower())] = app.view_functions[rule.endpoint].operation
    documented = {(path, method): op for path, item in doc["paths"].items() for method, op in item.items()}
    assert set(served) == set(documented)
    ids = [op["operationId"] for op in documented.values()]
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    for key, op in served.items():
        entry = documented[key]
        assert entry["operationId"] == op.operation_id
        assert entry["summary"] and entry["responses"][str(op.status)]
        if op.request is None:
            assert "requestBody" not in entry
            continue
        # the document's request schema is the declaration the route validates with, field for field
        ref = entry["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        if "root" in op.request.model_fields:  # a job submission: one member per kind (oneOf)
            members = {m["$ref"].rsplit("/", 1)[1] for m in schema["oneOf"]}
            kinds = {doc["components"]["schemas"][m]["properties"]["kind"]["const"] for m in members}
            assert kinds == set(KINDS[service])
            jsonschema.validate(entry["requestBody"]["content"]["application/json"]["example"],
                                _schema(doc, {"$ref": ref}))
            op.request.parse(entry["requestBody"]["content"]["application/json"]["example"])
            continue
        assert list(schema["properties"]) == list(op.request.model_fields)
        assert sorted(schema.get("required", [])) == sorted(
            name for name, field in op.request.model_fields.items() if field.is_required())
        example = entry["requestBody"]["content"]["application/json"]["example"]
        jsonschema.validate(example, _schema(doc, {"$ref": ref}))
        op.request.parse(example)  # the example is valid for the route too


@pytest.mark.parametrize("service", ["static", "dynamic"])
def test_a_misspelt_field_lists_exactly_the_documented_fields(service):
    """The route's own refusal names the accepted fields; they are the document's properties."""
    app = _app(service)
    doc = openapi.document(service)
    client = app.test_client()
    for op in operations(service):
        if op.request is None or op.request.model_config.get("extra") == "allow" or "root" in op.request.model_fields:
            continue
        r = client.post(op.path, json={**op.example, "no_such_field": 1})
        assert r.status_code == 400, (op.path, r.get_json())
        message = r.get_json()["error"]["message"]
        ref = doc["paths"][op.path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        properties = sorted(doc["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])
        assert message == f"unknown field(s) ['no_such_field']; accepted fields: {properties}", message


def test_security_is_applied_when_the_replica_has_a_token():
    with_token = openapi.document("static", secured=True)
    without = openapi.document("static", secured=False)
    for path, item in with_token["paths"].items():
        for method, op in item.items():
            open_path = path in ("/health", "/healthz", "/readyz")
            assert op["security"] == ([] if open_path else [{"bearer": []}]), path
            assert ("401" in op["responses"]) == (not open_path), path
            assert without["paths"][path][method]["security"] == []


@pytest.mark.parametrize("service", ["static", "dynamic"])
def test_real_answers_conform_to_the_document(service, request):
    """Every operation's example, sent to the real service: the answer validates against the schema of
    its status in the document, and against the answer declaration."""
    url = request.getfixturevalue(f"{service}_url")
    doc = requests.get(url + "/openapi.json", timeout=30).json()
    ops = {op.operation_id: op for op in operations(service)}
    for path, item in doc["paths"].items():
        for method, entry in item.items():
            if "jobs" in entry["tags"]:
                continue  # they need Redis and workers: tests/jobs/test_job_routes.py
            params = {p["name"]: p["example"] for p in entry.get("parameters", [])}
            target = url + path.format(**params)
            if method == "post":
                resp = requests.post(target, json=entry["requestBody"]["content"]["application/json"]["example"],
                                     timeout=120)
            else:
                resp = requests.get(target, timeout=60)
            assert resp.status_code == 200, (path, resp.text[:500])
            schema = entry["responses"]["200"]["content"]["application/json"]["schema"]
            jsonschema.validate(resp.json(), _schema(doc, schema))
            ops[entry["operationId"]].answer.model_validate(resp.json())


def test_an_error_answer_conforms_to_the_envelope(static_url):
    doc = requests.get(static_url + "/openapi.json", timeout=30).json()
    resp = requests.post(static_url + "/v1/fba", json={"model": {"id": "e_coli_core"}, "bounds": {"PGI": [1]},
                                                       "method": "nope"}, timeout=30)
    assert resp.status_code == 400
    schema = doc["paths"]["/v1/fba"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
    jsonschema.validate(resp.json(), _schema(doc, schema))
    error = resp.json()["error"]
    assert error["message"] == "bounds['PGI'] must be a pair [lower, upper]"
    assert [e["field"] for e in error["details"]["errors"]] == ["bounds['PGI']", "method"]


class _Capture:
    """Stands in for the network under the client's request builders: records what they would send."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def __call__(self, service, path, payload):
        self.sent.append((path, payload))
        return {}


def test_the_client_sends_only_declared_fields(monkeypatch):
    """The VM client's body builders (bioxen_vm.client) against the declarations: every body each
    method builds is accepted by the route's request model."""
    from bioxen_vm import BiologicalComputationClient

    client = BiologicalComputationClient("http://127.0.0.1:9", "http://127.0.0.1:9")
    capture = _Capture()
    monkeypatch.setattr(client, "post", capture)
    calls = [
        lambda: client.fba("e_coli_core", objective="PGI", bounds={"EX_glc__D_e": (-5, 1000)},
                           medium={"EX_glc__D_e": 10}, knockout_genes=["b1779"], fluxes=["PGI"]),
        lambda: client.pfba("e_coli_core"),
        lambda: client.fva("e_coli_core", ["PGI"], fraction_of_optimum=0.9, loopless=True),
        lambda: client.knockouts("e_coli_core", genes=["b1779"], reactions=["PFK"]),
        lambda: client.dfba("e_coli_core", biomass=0.05, concentrations={"EX_glc__D_e": 10}, end=8,
                            uptake={"EX_glc__D_e": {"vmax": 10, "km": 0.5}}),
        lambda: client.simulate("gene_expression", end=10, points=11, selections=["mRNA"],
                                parameters={"k_translation": 0.2}),
        lambda: client.steady_state("gene_expression", parameters={"k_translation": 0.2}),
        lambda: client.scan("gene_expression", {"k_translation": [0.1, 0.2]}, end=10, points=11),
    ]
    for call in calls:
        try:
            call()
        except Exception:  # noqa: BLE001 - the answer is empty; only the body sent matters here
            pass
    by_path = {op.path: op.request for service in ("static", "dynamic") for op in operations(service) if op.request}
    assert {path for path, _ in capture.sent} >= {"/v1/fba", "/v1/fva", "/v1/knockouts", "/v1/dfba",
                                                   "/v1/simulate", "/v1/steady-state", "/v1/scan"}
    for path, body in capture.sent:
        by_path[path].parse(body)
