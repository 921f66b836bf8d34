"""The images, read with Docker's own parser (PyPI ``dockerfile``): multi-stage, the tests' Python minor,
dependency files before source, numeric non-root user, exec-form entrypoint equal to the CLI's serve
command; then that entrypoint, with the chart's arguments, run as a local process (the production server)
as a smoke test. tests/containers/ builds the images and runs them with a real engine."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import dockerfile
import pytest
import requests

from bioxen_vm.cli import build_parser
from chart_support import RELEASE, named, render
from support import BIN, ROOT, free_port

IMAGES = {"static": ROOT / "Dockerfile.static", "dynamic": ROOT / "Dockerfile.dynamic", "vm": ROOT / "Dockerfile.vm"}
SERVICES = ("static", "dynamic")


def parse(name: str) -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(IMAGES[name])))


def instructions(commands, cmd: str) -> list[dockerfile.Command]:
    return [c for c in commands if c.cmd.upper() == cmd]


def final_stage(commands) -> list[dockerfile.Command]:
    starts = [i for i, c in enumerate(commands) if c.cmd.upper() == "FROM"]
    return commands[starts[-1]:]


def env_of(commands) -> dict[str, str]:
    env = {}
    for c in instructions(final_stage(commands), "ENV"):
        env.update(zip(c.value[::2], c.value[1::2]))
    return env


def base_image(commands) -> str:
    args = dict(v.split("=", 1) for c in instructions(commands, "ARG") for v in c.value if "=" in v)
    image = instructions(commands, "FROM")[-1].value[0]
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)


@pytest.mark.parametrize("name", IMAGES)
def test_multi_stage_on_the_tests_python(name):
    commands = parse(name)
    froms = instructions(commands, "FROM")
    assert len(froms) >= 2, "multi-stage: build tools stay out of the runtime image"
    assert froms[0].value[1:] == ("AS", "build")
    assert any("--from=build" in c.flags for c in instructions(final_stage(commands), "COPY"))
    image = base_image(commands)
    assert image == f"python:{sys.version_info.major}.{sys.version_info.minor}-slim", image


@pytest.mark.parametrize("name", IMAGES)
def test_dependency_files_are_copied_before_the_source(name):
    commands = parse(name)
    copies = [c.value[0] for c in instructions(commands, "COPY") if not c.flags]
    first_source = min(i for i, src in enumerate(copies) if src.rstrip("/") in ("common", "services", "vm_client"))
    deps = [i for i, src in enumerate(copies) if src.endswith("pyproject.toml")]
    assert deps and max(deps) < first_source, copies
    # and the dependencies are installed between the two
    runs = [i for i, c in enumerate(commands) if c.cmd.upper() == "RUN" and "pip install" in c.value[0]]
    positions = [i for i, c in enumerate(commands) if c.cmd.upper() == "COPY"]
    assert positions[max(deps)] < runs[0] < positions[first_source]


@pytest.mark.parametrize("name", IMAGES)
def test_numeric_non_root_user_and_packaged_bytecode(name):
    commands = parse(name)
    final = final_stage(commands)
    users = instructions(final, "USER")
    assert users, "the runtime stage must set USER"
    uid, _, gid = users[-1].value[0].partition(":")
    assert uid.isdigit() and int(uid) >= 10000 and (not gid or gid.isdigit())
    # the shipped models are package data of bioxen_common, installed with the source: no second copy,
    # and nothing to point at them
    assert "BIOXEN_BYTECODE_DIR" not in env_of(commands)
    assert not any("bytecode" in part for c in instructions(commands, "COPY") for part in c.value)
    [install] = [c for c in instructions(commands, "RUN") if "--target /opt/bioxen/app" in c.value[0]]
    assert "./common" in install.value[0].split()
    assert (ROOT / "common" / "bioxen_common" / "bytecode" / "manifest.json").is_file()


@pytest.mark.parametrize("service", SERVICES)
def test_entrypoint_is_the_cli_serve_command(service):
    commands = parse(service)
    [entrypoint] = instructions(commands, "ENTRYPOINT")
    [cmd] = instructions(commands, "CMD")
    assert entrypoint.json and cmd.json, "exec form, so the server is PID 1 and receives SIGTERM"
    assert list(entrypoint.value) == ["bioxen", "serve", service]
    args = build_parser().parse_args([*entrypoint.value[1:], *cmd.value])
    assert (args.command, args.service, args.port) == ("serve", service, 8000)
    assert args.metrics_dir == env_of(commands)["PROMETHEUS_MULTIPROC_DIR"]
    assert "8000" in [p for c in instructions(commands, "EXPOSE") for p in c.value]


def test_vm_image_entrypoint_runs_the_chart_vm_command():
    commands = parse("vm")
    [entrypoint] = instructions(commands, "ENTRYPOINT")
    assert entrypoint.json and list(entrypoint.value) == ["bioxen"]
    dep = named(render(), "Deployment", f"{RELEASE}-vm-ecoli-vm-1")
    args = build_parser().parse_args(dep["spec"]["template"]["spec"]["containers"][0]["args"])
    assert (args.id, args.type, args.metrics_port) == ("ecoli_vm_1", "ecoli", 9100)


def _local_argv(service: str, host: str, port: int, metrics_dir: str) -> list[str]:
    """The image's ENTRYPOINT followed by the chart's container args, pointed at a loopback port."""
    [entrypoint] = instructions(parse(service), "ENTRYPOINT")
    container = named(render(), "Deployment", f"{RELEASE}-{service}")["spec"]["template"]["spec"]["containers"][0]
    args = list(container["args"])
    for flag, value in (("--host", host), ("--port", str(port)), ("--metrics-dir", metrics_dir),
                        ("--engines", "1")):
        args[args.index(flag) + 1] = value
    return [str(BIN / entrypoint.value[0]), *entrypoint.value[1:], *args]


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES)
def test_entrypoint_command_serves_locally(service):
    host, port = "127.0.0.1", free_port()
    metrics_dir = tempfile.mkdtemp(prefix=f"bioxen-smoke-{service}-")
    argv = _local_argv(service, host, port, metrics_dir)
    inherited = {k: v for k, v in os.environ.items() if k != "BIOXEN_BYTECODE_DIR"}  # the packaged models
    env = {**inherited, **env_of(parse(service)), "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
           "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            ready = None
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    ready = requests.get(f"http://{host}:{port}/readyz", timeout=2)
                    if ready.status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.3)
            log.seek(0)
            assert ready is not None and ready.status_code == 200, log.read().decode()[-2000:]
            assert requests.get(f"http://{host}:{port}/healthz", timeout=5).json()["status"] == "alive"
            metrics = requests.get(f"http://{host}:{port}/metrics", timeout=5).text
            assert re.search(rf'bioxen_ready{{service="{service}"}} 1\.0', metrics), metrics[:500]
            assert os.listdir(metrics_dir), "samples must go to the metrics directory the chart mounts"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
