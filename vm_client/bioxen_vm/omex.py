"""COMBINE archives (OMEX) on the VM side: which service runs an archive, its request body, and the answer
as an :class:`OmexResult` (reports as pandas DataFrames, files saved to a folder).

The service is chosen from the algorithms of the archive's SED-ML files, read with the standard library
(this package stays light: no libSEDML): flux-balance algorithms (KiSAO 0000437 and its family) run on
the static service, anything else on the dynamic one. pandas is optional, imported when ``.reports`` is
first read.
"""

from __future__ import annotations

import base64
import io
import json
import posixpath
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from bioxen_common.combine import SEDML_FORMAT

ZIP = "application/zip"
#: KiSAO ids of the flux-balance family, run by the static service: FBA (0000437), flux variability
#: (0000526), geometric FBA (0000527), parsimonious FBA (0000528), loopless FBA (0000554)
FBA_FAMILY = frozenset({"KISAO_0000437", "KISAO_0000526", "KISAO_0000527", "KISAO_0000528", "KISAO_0000554"})
#: the largest manifest or SED-ML file read here to choose the service (a safeguard, not a service limit)
_MAX_READ = 64 << 20


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(zf: zipfile.ZipFile, name: str):
    info = zf.getinfo(name)
    if info.file_size > _MAX_READ:
        raise ValueError(f"{name} in the archive is {info.file_size} bytes; too large to read")
    text = zf.read(info)
    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:
        raise ValueError(f"{name} in the archive declares a DTD or entities; refused")
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise ValueError(f"{name} in the archive is not well-formed XML: {exc}") from None


def sedml_files(zf: zipfile.ZipFile) -> list[str]:
    """The SED-ML files the archive's manifest lists (its masters when it marks any)."""
    names = set(zf.namelist())
    if "manifest.xml" not in names:
        raise ValueError("the archive has no manifest.xml: not a COMBINE archive")
    listed, masters = [], []
    for content in _xml(zf, "manifest.xml"):
        location = (content.get("location") or "").removeprefix("./")
        if _local(content.tag) == "content" and SEDML_FORMAT.match(content.get("format") or ""):
            if location in names:
                listed.append(location)
                if (content.get("master") or "").lower() == "true":
                    masters.append(location)
    return masters or listed


def algorithms(data: bytes) -> list[str]:
    """The KiSAO ids (``KISAO_0000019``) of every simulation algorithm the archive's SED-ML asks for."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"not a COMBINE archive (a zip): {exc}") from None
    with zf:
        found = []
        for name in sedml_files(zf):
            for el in _xml(zf, name).iter():
                if _local(el.tag) == "algorithm" and el.get("kisaoID"):
                    found.append(el.get("kisaoID").replace(":", "_"))
    return found


def service_for(data: bytes) -> str:
    """``"static"`` when the archive's SED-ML asks for a flux-balance algorithm, else ``"dynamic"``."""
    return "static" if any(kisao in FBA_FAMILY for kisao in algorithms(data)) else "dynamic"


def request_body(data: bytes, seed: int | None = None) -> dict:
    """The JSON body of ``POST /v1/omex`` (and a job's ``request``): the archive base64-encoded."""
    body: dict[str, Any] = {"archive": base64.b64encode(data).decode("ascii")}
    if seed is not None:
        body["seed"] = seed
    return body


def _frame(report: dict):
    """A report as a DataFrame: a column per data set (its label), a row per point; nested values
    (repeated tasks) flattened in order, their positions as a MultiIndex."""
    try:
        import numpy as np
        import pandas as pd
    except ImportError:
        raise ImportError("OmexResult.reports needs pandas (pip install pandas); without it, .answer holds "
                          "the reports as JSON") from None
    columns = {}
    shapes = set()
    for ds in report["data_sets"]:
        values = np.atleast_1d(np.asarray(ds["values"] if ds["values"] is not None else np.nan, dtype=float))
        shapes.add(values.shape)
        columns[ds.get("label") or ds["id"]] = values
    if len(shapes) > 1:  # data sets of different lengths: pad with NaN to the longest
        longest = max(v.size for v in columns.values())
        columns = {k: np.pad(v.ravel(), (0, longest - v.size), constant_values=np.nan) for k, v in columns.items()}
        return pd.DataFrame(columns)
    shape = next(iter(shapes), (0,))
    index = pd.MultiIndex.from_tuples(list(np.ndindex(shape))) if len(shape) > 1 else None
    frame = pd.DataFrame({k: v.ravel() for k, v in columns.items()}, index=index)
    frame.columns = [ds.get("label") or ds["id"] for ds in report["data_sets"]]  # duplicates kept
    return frame


class OmexResult:
    """The answer of ``POST /v1/omex``: ``answer`` (the JSON dict), ``reports`` (DataFrames by
    ``"<sedml file>/<report id>"``), ``plots``, ``substitutions``, ``warnings``, and, when the service
    sent its zip, ``files`` (name -> bytes: reports.h5, the CSVs, the PNGs, answer.json) and :meth:`save`."""

    def __init__(self, service: str, answer: dict, files: dict[str, bytes] | None = None):
        self.service = service
        self.answer = answer
        self.files = files or {}
        self._frames: dict | None = None

    @classmethod
    def from_zip(cls, service: str, data: bytes) -> "OmexResult":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files = {info.filename: zf.read(info) for info in zf.infolist() if not info.is_dir()}
        return cls(service, json.loads(files["answer.json"]), files)

    @property
    def reports(self) -> dict:
        if self._frames is None:
            self._frames = {key: _frame(report) for key, report in self.answer["reports"].items()}
        return self._frames

    @property
    def plots(self) -> dict:
        return self.answer.get("plots", {})

    @property
    def substitutions(self) -> list[dict]:
        return self.answer.get("substitutions", [])

    @property
    def warnings(self) -> list[str]:
        return self.answer.get("warnings", [])

    @property
    def hdf5(self) -> bytes:
        """reports.h5 (BioSimulators layout), as the service wrote it."""
        if "reports.h5" not in self.files:
            raise ValueError("no reports.h5 here: run_omex(..., files=True) asks the service for it")
        return self.files["reports.h5"]

    def save(self, folder: str | Path) -> list[Path]:
        """Write reports.h5, ``<sedml file>/<report id>.csv``, ``<sedml file>/<plot id>.png`` and
        answer.json under ``folder`` (created); the paths written. Names that would leave the folder
        are refused."""
        if not self.files:
            raise ValueError("no files here: run_omex(..., files=True) asks the service for them")
        root = Path(folder)
        written = []
        for name, data in self.files.items():
            clean = posixpath.normpath(name)
            if clean.startswith(("../", "/")) or clean == ".." or "\\" in name:
                raise ValueError(f"the service's answer names a file outside the folder: {name!r}")
            target = root.joinpath(*clean.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(target)
        return written

    def summary(self) -> str:
        """Reports with their shapes, plots, substitutions and warnings, as lines of text."""
        lines = [f"service: {self.service}"]
        for key, report in self.answer["reports"].items():
            sets = report["data_sets"]
            shape = array_shape(sets[0]["values"]) if sets else "-"
            lines.append(f"report {key}: {len(sets)} data sets x {shape}")
        lines += [f"plot {key}: {len(plot.get('curves', []))} curves" for key, plot in self.plots.items()]
        lines += [f"substituted {s['requested']} -> {s['used']} in task {s['task']}: {s['reason']}"
                  for s in self.substitutions]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def array_shape(values: Any) -> str:
    dims = []
    while isinstance(values, list):
        dims.append(len(values))
        values = values[0] if values else None
    return "x".join(str(d) for d in dims) or "1"
