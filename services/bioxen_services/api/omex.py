"""``POST /v1/omex`` (issue 16): a COMBINE archive in, its SED-ML reports and plots out.

The archive comes as the body (``Content-Type: application/zip``), as the multipart field ``archive``, or
in JSON as ``{"archive": "<base64 of the zip>"}``, the form a job submission carries it in
(``{"kind": "omex", "request": {"archive": ...}}``). All three are read into the same declaration,
:class:`OmexRequest`. The JSON answer is :class:`OmexAnswer`; the same reports as HDF5 and as a zip of
CSVs, PNGs, ``reports.h5`` and ``answer.json`` are the answer's other media types (``Accept``).
"""

from __future__ import annotations

import base64
import binascii
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from annotated_types import Ge
from pydantic import BeforeValidator, Field, WithJsonSchema

from .common import Answer
from .fields import Body, fail, type_name, whole

ZIP = "application/zip"
HDF5 = "application/x-hdf5"
#: the answer's media types besides JSON, and what each holds
OMEX_MEDIA = {
    HDF5: "the reports as one HDF5 file in the BioSimulators layout: a dataset per report at "
          "/<sedml file>/<report id>, a row per data set, attributes sedmlDataSetIds, sedmlDataSetLabels, "
          "sedmlDataSetNames, sedmlDataSetShapes, sedmlDataSetDataTypes, sedmlId, sedmlName",
    ZIP: "a zip: <sedml file>/<report id>.csv (a column per data set), <sedml file>/<plot id>.png, "
         "reports.h5 and answer.json (the JSON answer)",
}


def _archive_bytes(value: Any) -> bytes:
    """The zip's bytes: given as is by an upload, base64 text in JSON."""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise fail(f"must be the archive as base64 text, got {type_name(value)}")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise fail("must be the archive as base64 text (RFC 4648, no line breaks)") from exc
    if not data:
        raise fail("must be a non-empty archive")
    return data


ArchiveBytes = Annotated[bytes, BeforeValidator(_archive_bytes), WithJsonSchema(
    {"type": "string", "contentEncoding": "base64", "contentMediaType": ZIP,
     "description": "the COMBINE archive (OMEX, a zip), base64-encoded"})]


class OmexRequest(Body):
    archive: ArchiveBytes = Field(description="the COMBINE archive (OMEX): manifest.xml, SED-ML, the models "
                                              "they name; nothing outside it is read or fetched")
    seed: whole(Ge(0)) | None = Field(None, description="seed of stochastic tasks whose algorithm names none "
                                                        "(default: drawn per run)")


# -- answers -------------------------------------------------------------------------------------
Values = Any  # a number, or nested lists of numbers (null where not a number)


class DataSet(Answer):
    id: str
    label: str | None = None
    name: str | None = None
    values: Values = Field(description="the data set's values: a list per time point (nested for repeated "
                                       "tasks), a number for a steady state")


class Report(Answer):
    id: str
    name: str | None = None
    data_sets: list[DataSet]


class Axis(Answer):
    id: str
    label: str | None = None
    name: str | None = None
    values: Values


class Curve(Answer):
    id: str
    name: str | None = None
    x: Axis
    y: Axis
    z: Axis | None = None
    log_x: bool | None = None
    log_y: bool | None = None
    log_z: bool | None = None


class Plot(Answer):
    id: str
    name: str | None = None
    kind: Literal["2d", "3d"]
    curves: list[Curve]
    x_label: str | None = None
    y_label: str | None = None


class Substitution(Answer):
    task: str
    requested: str = Field(description="the KiSAO id the SED-ML asks for")
    used: str = Field(description="the KiSAO id run instead")
    reason: str


class OmexAnswer(Answer):
    reports: dict[str, Report] = Field(description="by \"<sedml file>/<report id>\"")
    plots: dict[str, Plot] = Field(default_factory=dict, description="by \"<sedml file>/<plot id>\"")
    tasks: list[dict[str, Any]] = Field(default_factory=list, description="each task run: id, algorithm, engine")
    substitutions: list[Substitution] = Field(
        default_factory=list, description="algorithms run in place of the one asked for (BioSimulators' "
                                          "algorithm substitution policy)")
    warnings: list[str] = Field(default_factory=list)


@cache
def example_archive(service: str) -> bytes:
    """The small archive the operation documents as its example on ``service``."""
    return resources.files("bioxen_services.omex").joinpath("examples", f"{service}.omex").read_bytes()


def example(service: str) -> dict:
    return {"archive": base64.b64encode(example_archive(service)).decode("ascii")}
