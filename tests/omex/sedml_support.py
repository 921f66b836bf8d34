"""Helpers of the SED-ML execution tests: the shipped reference archives, extracting them, and small
archives written by a test from a model and a SED-ML text."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np

#: the suite's archives beside the checkout (../shared/omex), as the SBML Test Suite cases are
OMEX_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "omex"
SEDML_FORMAT = "http://identifiers.org/combine.specifications/sed-ml"


def reference_archives() -> list[str]:
    return sorted(p.name for p in OMEX_DIR.iterdir() if (p / "expected-results.json").is_file()) \
        if OMEX_DIR.is_dir() else []


def expected(name: str) -> dict:
    return json.loads((OMEX_DIR / name / "expected-results.json").read_text())


def extract(name: str, into: Path) -> list[str]:
    """The archive unzipped into ``into`` (trusted: these are the suite's own archives); the SED-ML
    files its manifest lists, as written there."""
    with zipfile.ZipFile(OMEX_DIR / name / f"{name}.omex") as archive:
        archive.extractall(into)
    manifest = ET.parse(into / "manifest.xml").getroot()
    return [item.get("location") for item in manifest
            if (item.get("format") or "").startswith(SEDML_FORMAT)]


def service_for(name: str) -> str:
    algorithms = {t["simulationAlgorithm"] for t in expected(name)["taskRequirements"]}
    return "static" if algorithms <= {"KISAO_0000437", "KISAO_0000528", "KISAO_0000526"} else "dynamic"


def series(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.ravel(np.array(values, dtype=object))],
                    dtype=float).reshape(np.shape(values))


def relative_difference(ours: np.ndarray, reference: np.ndarray, floor: float = 1e-10) -> float:
    """Largest |ours - reference| over the reference series' largest magnitude (at least ``floor``,
    so a series that is numerically zero is not compared at the level of rounding noise)."""
    scale = max(float(np.nanmax(np.abs(reference))) if reference.size else 0.0, floor)
    both = np.isfinite(ours) & np.isfinite(reference)
    if not np.array_equal(np.isfinite(ours), np.isfinite(reference)):
        return float("inf")
    return float(np.max(np.abs(ours[both] - reference[both]), initial=0.0) / scale)


SEDML_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<sedML xmlns="http://sed-ml.org/sed-ml/level1/version3" level="1" version="3"
       xmlns:sbml="http://www.sbml.org/sbml/level2/version4"
       xmlns:fbc="http://www.sbml.org/sbml/level3/version1/fbc/version2">
"""


def write_archive(folder: Path, model: str, sedml: str, model_name: str = "model.xml",
                  sedml_name: str = "experiment.sedml") -> Path:
    """A folder laid out as an extracted archive: the model file and the SED-ML file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / model_name).write_text(model)
    (folder / sedml_name).write_text(SEDML_HEAD + sedml + "\n</sedML>\n")
    return folder


def data_set(answer: dict, report: str, data_set_id: str) -> np.ndarray:
    found = answer["reports"][report]["data_sets"]
    return series(next(d["values"] for d in found if d["id"] == data_set_id))
