"""Each service's OpenAPI document, exactly as ``GET /openapi.json`` serves it, passes Redocly's linter
(the recommended ruleset, configured in redocly.yaml at the repository root) with no error. Warnings
do not fail; the report is printed either way (``pytest -rP`` shows it for a passing run)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from support import BYTECODE, ROOT

REDOCLY = ROOT / ".tools" / "bin" / "redocly"
CONFIG = ROOT / "redocly.yaml"


def served_document(service: str, token: str | None) -> dict:
    """The document the service answers ``GET /openapi.json`` with (built in-process: no engine starts),
    with or without a token (the bearer scheme is applied only when the replica has one)."""
    from dataclasses import replace

    from bioxen_services.app import create_app
    from bioxen_services.settings import Settings

    settings = Settings.from_env({"BIOXEN_BYTECODE_DIR": str(BYTECODE)})
    app = create_app(service, replace(settings, api_token=token or ""))
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200, answer.text
    return answer.get_json()


def redocly_lint(path) -> subprocess.CompletedProcess:
    if not REDOCLY.is_file():
        message = f"redocly is not installed at {REDOCLY}: run `make tools`"
        if os.environ.get("CI"):  # make test installs it first; missing in CI is a broken install step
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}
    return subprocess.run([str(REDOCLY), "lint", "--config", str(CONFIG), "--format", "stylish", str(path)],
                          capture_output=True, text=True, timeout=180, env=env, cwd=path.parent)


@pytest.mark.parametrize("token", [None, "s3cret"], ids=["open", "with-token"])
@pytest.mark.parametrize("service", ["static", "dynamic"])
def test_the_document_passes_redocly_lint(service, token, tmp_path):
    path = tmp_path / f"{service}.openapi.json"
    path.write_text(json.dumps(served_document(service, token), indent=2))
    run = redocly_lint(path)
    exit_status = run.returncode
    report = f"redocly lint {path.name} (exit {exit_status}):\n{run.stdout}\n{run.stderr}"
    print(report)
    assert exit_status == 0, report
