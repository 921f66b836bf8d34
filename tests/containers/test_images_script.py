"""scripts/images.sh and the generated facts section, checked without an engine: the script is valid bash,
names exactly the images the chart renders, and deploy/README.md carries facts for those images."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from containers_support import HELM, IMAGES_SCRIPT
from facts import BEGIN, END, README
from support import ROOT


#: images the chart takes from elsewhere, not built here (the chart's own Redis for the job queue)
THIRD_PARTY = {"redis"}


def chart_images() -> dict[str, str]:
    """The images this project builds, by component, as the chart renders them. A job worker runs its
    engine's image (``<engine>-worker`` must render the same image as ``<engine>``)."""
    import yaml

    rendered = subprocess.run([str(HELM), "template", "bioxen", str(ROOT / "helm" / "bioxen")], capture_output=True,
                              text=True, timeout=120, check=True).stdout
    out = {}
    for doc in yaml.safe_load_all(rendered):
        if doc and doc["kind"] == "Deployment":
            component = doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
            out[component] = doc["spec"]["template"]["spec"]["containers"][0]["image"]
    for component in [c for c in out if c.endswith("-worker")]:
        assert out.pop(component) == out[component.removesuffix("-worker")], f"{component} runs another image"
    return {c: image for c, image in out.items() if c not in THIRD_PARTY}


def test_images_script_is_valid_bash():
    proc = subprocess.run(["bash", "-n", str(IMAGES_SCRIPT)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", "-S", "warning", str(IMAGES_SCRIPT)], capture_output=True, text=True,
                              timeout=60)
        assert lint.returncode == 0, lint.stdout


def test_images_script_tags_the_images_the_chart_renders():
    env = {**os.environ, "PY": sys.executable, "HELM": str(HELM)}
    proc = subprocess.run(["bash", str(IMAGES_SCRIPT), "tags"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    tags = dict(line.split() for line in proc.stdout.splitlines())
    assert tags == chart_images() and set(tags) == {"static", "dynamic", "vm"}
    assert all((ROOT / f"Dockerfile.{component}").is_file() for component in tags)


def test_deploy_readme_carries_facts_of_the_chart_images():
    text = README.read_text()
    section = text[text.index(BEGIN):text.index(END)]
    for image in chart_images().values():
        assert f"`{image}`" in section, f"deploy/README.md has no facts for {image}: run make test, then make image-facts"
