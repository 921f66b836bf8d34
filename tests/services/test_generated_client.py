"""A client generated from each service's own /openapi.json calls every operation of the document
successfully: openapi-python-client (PyPI) writes a Python package, and each operation, found by its
operationId, is called with the document's own example (the request body's example, each parameter's
example) against the real service with a bearer token configured.

Nothing about the operations is written here: the test follows the document. What it asks of the document:
every operation has an operationId; every POST has ``requestBody.content["application/json"].example``
and every parameter an ``example``; the generator reads the whole document without a warning; an
operation that needs the token declares it in its own ``security`` (the generator types such a function
``client: AuthenticatedClient``, and only then do its callers send the token: each operation here is
called with the kind of client its generated signature asks for, so an undeclared requirement is a 401);
and each example is answered 200 with a body the generated model parses."""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import subprocess
import sys
import typing
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: an example computation may take a while (a dFBA run, an FVA); the client's default is 5 s
TIMEOUT = httpx.Timeout(120.0)


def resolve(document: dict, item: dict) -> dict:
    """``item`` itself, or what its local ``$ref`` points at."""
    while "$ref" in item:
        node = document
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        item = node
    return item


def operations(document: dict):
    """(method, path, operation, parameters) for every operation; path-level parameters included."""
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method in HTTP_METHODS:
                parameters = [resolve(document, p) for p in [*shared, *operation.get("parameters", [])]]
                yield method, path, operation, parameters


def missing_from_document(document: dict) -> list[str]:
    """What the document lacks for its generated client to be called on documented examples."""
    missing, seen = [], {}
    for method, path, operation, parameters in operations(document):
        where = f"{method.upper()} {path}"
        operation_id = operation.get("operationId")
        if not operation_id:
            missing.append(f"{where}: no operationId")
        elif operation_id in seen:
            missing.append(f"{where}: operationId {operation_id!r} also names {seen[operation_id]}")
        else:
            seen[operation_id] = where
        for parameter in parameters:
            if "example" not in parameter:
                missing.append(f"{where}: parameter {parameter['name']!r} has no example")
        if method == "post" or "requestBody" in operation:
            body = resolve(document, operation.get("requestBody", {}))
            if "example" not in body.get("content", {}).get("application/json", {}):
                missing.append(f'{where}: no requestBody.content["application/json"].example')
    return missing


def generate_client(document: dict, workdir: Path, package: str):
    """The package openapi-python-client generates from ``document`` into ``workdir`` (on ``sys.path``),
    imported."""
    spec, config = workdir / "openapi.json", workdir / "generator.json"
    spec.write_text(json.dumps(document))
    # the generator reads only application/octet-stream as a binary body; the archive operation's raw body
    # is application/zip (its documented option for this: content_type_overrides)
    config.write_text(json.dumps({"package_name_override": package, "post_hooks": [],
                                  "content_type_overrides": {"application/zip": "application/octet-stream"}}))
    run = subprocess.run([str(GENERATOR), "generate", "--path", str(spec), "--config", str(config),
                          "--meta", "none", "--output-path", str(workdir / package)],
                         capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    # the generator leaves out what it cannot read with a warning and exit status 0
    assert run.returncode == 0 and "encountered while generating" not in output, \
        f"openapi-python-client (exit {run.returncode}):\n{output}"
    _import_unset(workdir / package)
    return importlib.import_module(package)


def _import_unset(package_dir: Path) -> None:
    """Work around openapi-python-client issue #1451 (open in 0.29): an operation whose required body
    has several media types (/v1/omex: JSON, the zip, a multipart form) is annotated ``| Unset`` without
    ``Unset`` being imported, so its module cannot be imported. The document is right; the import is
    added."""
    for module in package_dir.glob("**/api/*/*.py"):
        text = module.read_text()
        if "| Unset" in text and "Unset," not in text and "import Unset" not in text:
            module.write_text("from ...types import Unset\n" + text)


@pytest.fixture()
def import_path(tmp_path):
    """A folder on ``sys.path`` for a generated package, and the package unimported afterwards."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in set(sys.modules) - before:
        del sys.modules[name]


def endpoint_module(client_package, operation_id: str):
    """The generated module of an operation: ``api/<tag>/<operationId as a Python name>.py``."""
    from openapi_python_client.strings import PythonIdentifier

    name = PythonIdentifier(operation_id, prefix="field_")
    api = Path(client_package.__file__).parent / "api"
    found = sorted(api.glob(f"*/{name}.py"))
    assert len(found) == 1, f"operationId {operation_id!r}: generated modules {found}"
    tag = found[0].parent.name
    return importlib.import_module(f"{client_package.__name__}.api.{tag}.{name}")


def argument(annotation, example):
    """The example as the generated function's parameter type wants it: a generated model (built
    with ``from_dict``), a generated enum, or the JSON value itself."""
    kinds = [a for a in (typing.get_args(annotation) or (annotation,)) if isinstance(a, type)]
    for kind in kinds:
        if hasattr(kind, "from_dict"):
            return kind.from_dict(example)
        if issubclass(kind, enum.Enum):
            return kind(example)
    return example


def call(module, client_package, operation: dict, parameters: list[dict], url: str, token: str | None):
    """The operation's generated ``sync_detailed`` called on its examples, with the kind of client its
    signature asks for (an ``AuthenticatedClient`` with ``token`` only where the document says the
    token is needed), or with a plain client when ``token`` is None."""
    from openapi_python_client.strings import PythonIdentifier

    signature = inspect.signature(module.sync_detailed, eval_str=True)
    needs_token = signature.parameters["client"].annotation is client_package.AuthenticatedClient
    if needs_token and token is not None:
        client = client_package.AuthenticatedClient(base_url=url, token=token, timeout=TIMEOUT,
                                                    raise_on_unexpected_status=True)
    else:
        client = client_package.Client(base_url=url, timeout=TIMEOUT, raise_on_unexpected_status=token is not None)
    kwargs = {}
    for parameter in parameters:
        name = PythonIdentifier(parameter["name"], prefix="field_")
        kwargs[name] = argument(signature.parameters[name].annotation, parameter["example"])
    body = operation.get("requestBody")
    if body is not None:
        example = body["content"]["application/json"]["example"]
        kwargs["body"] = argument(signature.parameters["body"].annotation, example)
    with client:
        return needs_token, module.sync_detailed(client=client, **kwargs)


def check_operation(client_package, operation: dict, parameters: list[dict], url: str, token: str) -> list[str]:
    """What goes wrong when the generated client calls ``operation`` on its examples (nothing: [])."""
    module = endpoint_module(client_package, operation["operationId"])
    needs_token, answer = call(module, client_package, operation, parameters, url, token)
    if answer.status_code != 200:
        hint = (" (the operation's own `security` does not name the bearer scheme, so the generated"
                " function takes a client without the token)") if answer.status_code == 401 else ""
        return [f"HTTP {answer.status_code}{hint}: {answer.content[:200]!r}"]
    if answer.parsed is None:
        return [f"the generated client parsed no answer from {answer.content[:200]!r}"]
    if needs_token:
        # and the document claims the token only where the service asks for it
        _, anonymous = call(module, client_package, operation, parameters, url, None)
        if anonymous.status_code != 401:
            return [f"documented as needing the token, but answered {anonymous.status_code} without it"]
    return []


def test_a_generated_client_calls_every_operation_on_its_documented_example(guarded_service, import_path):
    document = httpx.get(guarded_service.url + "/openapi.json", timeout=10).json()
    missing = missing_from_document(document)
    assert not missing, "the document lacks:\n" + "\n".join(missing)
    client_package = generate_client(document, import_path, f"bioxen_{guarded_service.service}_api_client")
    token = guarded_service.env["BIOXEN_API_TOKEN"]
    failures = []
    for method, path, operation, parameters in operations(document):
        if "jobs" in operation.get("tags", ()):
            continue  # job operations need Redis and workers: tests/jobs/test_job_routes.py calls them
        if "requestBody" in operation:
            operation = {**operation, "requestBody": resolve(document, operation["requestBody"])}
        try:
            problems = check_operation(client_package, operation, parameters, guarded_service.url, token)
        except Exception as exc:  # noqa: BLE001 - every operation is tried, and every failure reported
            problems = [f"{type(exc).__name__}: {exc}"]
        failures += [f"{operation['operationId']} ({method.upper()} {path}): {p}" for p in problems]
    assert not failures, "\n".join(failures)
