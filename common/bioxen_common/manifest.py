"""The biological bytecode and its manifest: chassis -> metabolic model, objective, kinetic programs.

The shipped models, programs and ``manifest.json`` (the one place that says which model each chassis
runs) are package data of this package, in its ``bytecode/`` folder, as cobrapy ships its models: an
installed package finds them with no checkout. The services read the manifest at start-up to know which
models to load; a VM reads it to describe its chassis. ``BIOXEN_BYTECODE_DIR`` points both at another
folder of the same layout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

ENV_DIR = "BIOXEN_BYTECODE_DIR"
#: the models shipped with this package
SHIPPED_DIR = Path(__file__).resolve().parent / "bytecode"


@dataclass(frozen=True)
class MetabolicModelEntry:
    id: str
    path: Path
    objective: str
    organism: str
    description: str


@dataclass(frozen=True)
class KineticProgramEntry:
    id: str
    path: Path
    format: str  # "sbml" or "antimony"
    description: str


@dataclass(frozen=True)
class Chassis:
    name: str
    metabolic_model: str
    objective: str
    kinetic_programs: tuple[str, ...]
    capabilities: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Manifest:
    root: Path
    metabolic_models: dict[str, MetabolicModelEntry]
    kinetic_programs: dict[str, KineticProgramEntry]
    chassis: dict[str, Chassis]

    def chassis_for(self, name: str) -> Chassis:
        try:
            return self.chassis[name]
        except KeyError:
            supported = ", ".join(sorted(self.chassis))
            raise ValueError(f"unknown chassis {name!r}; supported: {supported}") from None


def default_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``BIOXEN_BYTECODE_DIR`` when set, else the models shipped with this package."""
    value = (os.environ if environ is None else environ).get(ENV_DIR)
    return Path(value) if value else SHIPPED_DIR


def load_manifest(root: Path | str | None = None) -> Manifest:
    """Read and check the manifest; every file it names must exist."""
    root = Path(root) if root is not None else default_dir()
    raw = json.loads((root / "manifest.json").read_text())
    models = {
        key: MetabolicModelEntry(key, root / v["file"], v["objective"], v.get("organism", ""),
                                 v.get("description", ""))
        for key, v in raw["metabolic_models"].items()
    }
    programs = {
        key: KineticProgramEntry(key, root / v["file"], v["format"], v.get("description", ""))
        for key, v in raw["kinetic_programs"].items()
    }
    for entry in [*models.values(), *programs.values()]:
        if not entry.path.is_file():
            raise FileNotFoundError(f"bytecode manifest names a missing file: {entry.path}")
    chassis: dict[str, Chassis] = {}
    for name, spec in raw["chassis"].items():
        spec = raw["chassis"][spec["alias_of"]] if "alias_of" in spec else spec
        if spec["metabolic_model"] not in models:
            raise ValueError(f"chassis {name!r} names unknown model {spec['metabolic_model']!r}")
        unknown = [p for p in spec["kinetic_programs"] if p not in programs]
        if unknown:
            raise ValueError(f"chassis {name!r} names unknown kinetic programs {unknown}")
        chassis[name] = Chassis(name, spec["metabolic_model"], spec["objective"],
                                tuple(spec["kinetic_programs"]), tuple(spec.get("capabilities", ())),
                                spec.get("note", ""))
    return Manifest(root, models, programs, chassis)


@lru_cache(maxsize=1)
def default_manifest() -> Manifest:
    """The manifest of :func:`default_dir`, read once."""
    return load_manifest()
