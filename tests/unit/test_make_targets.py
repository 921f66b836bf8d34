"""``make demo`` installs only what the demo needs and shows what it is doing; ``make install`` (and so
``make test``) adds the test tools. Read from make's own dry run (``make -n``) into a fresh venv path."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from support import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(target: str, tmp_path) -> list[str]:
    proc = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}"],
                          capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout.splitlines()


def pip_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " -m pip install " in line]


def test_demo_installs_the_services_and_vm_without_the_test_tools_and_says_so(tmp_path):
    lines = dry_run("demo", tmp_path)
    installs = pip_lines(lines)
    assert installs and not any("requirements-dev" in line or "requests" in line for line in installs)
    assert any("'services[static,dynamic]'" in line and "'vm_client[plot]'" in line for line in installs)
    assert all(" -q" not in line and "--progress-bar on" in line for line in installs)
    assert lines[0].startswith("echo") and "installing the demo" in "".join(lines[:2])
    assert lines[-1].endswith("bin/bioxen demo")


def test_install_adds_the_test_tools_and_requests_on_top_of_the_demo(tmp_path):
    installs = pip_lines(dry_run("install", tmp_path))
    assert any("'services[static,dynamic]'" in line for line in installs)
    assert any("-r requirements-dev.txt" in line and "'vm_client[plot,requests,pandas]'" in line for line in installs)
