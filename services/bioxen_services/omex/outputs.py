"""The answer of an archive's run in its other forms: the reports as HDF5 in the BioSimulators layout, and
a zip of CSV reports, PNG plots, ``reports.h5`` and ``answer.json``. Everything is written to memory and
returned as bytes (nothing touches the disk); rendering runs in the engine process that ran the archive,
under the request's deadline.

HDF5 layout (as the reference ``reports.h5`` files of the BioSimulators test suite): one dataset per
report at ``/<sedml file>/<report id>``, a row per data set (in report order), the data sets padded with
NaN to one shape; its attributes ``_type`` (``SedReport``), ``uri``, ``sedmlId``, ``sedmlName`` and, one
entry per data set, ``sedmlDataSetIds``, ``sedmlDataSetLabels``, ``sedmlDataSetNames``,
``sedmlDataSetShapes`` (``"601"``, ``"11,601"``; ``""`` for a number) and ``sedmlDataSetDataTypes``; the
group of each SED-ML file has ``uri`` and ``combineArchiveLocation``.

CSV: one file per report, a column per data set (its label as the header) and a row per point, when
every data set is a series or a number; with nested values (repeated tasks) a row per data set, its
label first and its values flattened, as the BioSimulators CSV reports are written.
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import numpy as np
import orjson

from ..api.omex import HDF5, ZIP

#: entries of the zip answer are dated (zip needs a date) with a fixed one, so one answer is one byte string
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)


def _array(values: Any) -> np.ndarray:
    return np.asarray(values if values is not None else np.nan, dtype=np.float64)


def _shape(values: np.ndarray) -> str:
    return ",".join(str(n) for n in values.shape)


def report_matrix(report: dict) -> tuple[np.ndarray, list[str]]:
    """A report's data sets as one array, a row per data set (NaN-padded to one shape; numbers as
    shape (1,)), and each data set's own shape."""
    arrays = [_array(ds["values"]) for ds in report["data_sets"]]
    shapes = [_shape(a) for a in arrays]
    if not arrays:
        return np.zeros((0, 0)), shapes
    arrays = [np.atleast_1d(a) for a in arrays]
    ndim = max(a.ndim for a in arrays)
    arrays = [a.reshape(a.shape + (1,) * (ndim - a.ndim)) for a in arrays]
    full = tuple(max(a.shape[i] for a in arrays) for i in range(ndim))
    out = np.full((len(arrays), *full), np.nan)
    for row, a in zip(out, arrays):
        row[tuple(slice(0, n) for n in a.shape)] = a
    return out, shapes


def _strings(values: list) -> np.ndarray:
    return np.array([v if v is not None else "" for v in values], dtype=object)


def _sedml_groups(h5, key: str) -> None:
    """The groups of a report's SED-ML file, with their ``uri`` and ``combineArchiveLocation``."""
    location = key.rsplit("/", 1)[0]
    group = h5.require_group(location)
    group.attrs["uri"] = location
    group.attrs["combineArchiveLocation"] = location


def to_hdf5(answer: dict) -> bytes:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        for key, report in answer["reports"].items():
            _sedml_groups(h5, key)
            matrix, shapes = report_matrix(report)
            dataset = h5.create_dataset(key, data=matrix)
            sets = report["data_sets"]
            attrs = dataset.attrs
            attrs["_type"] = "SedReport"
            attrs["uri"] = key
            attrs["sedmlId"] = report["id"]
            if report.get("name"):
                attrs["sedmlName"] = report["name"]
            attrs["sedmlDataSetIds"] = _strings([ds["id"] for ds in sets])
            attrs["sedmlDataSetLabels"] = _strings([ds.get("label") for ds in sets])
            attrs["sedmlDataSetNames"] = _strings([ds.get("name") for ds in sets])
            attrs["sedmlDataSetShapes"] = _strings(shapes)
            attrs["sedmlDataSetDataTypes"] = _strings(["float64"] * len(sets))
    return buffer.getvalue()


def _cell(value: float) -> str:
    return "" if np.isnan(value) else repr(float(value))


def to_csv(report: dict) -> str:
    matrix, _ = report_matrix(report)
    labels = [ds.get("label") or ds["id"] for ds in report["data_sets"]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if matrix.ndim <= 2:  # series and numbers: a column per data set
        writer.writerow(labels)
        for row in matrix.reshape(len(labels), -1).T:
            writer.writerow([_cell(v) for v in row])
    else:
        for label, row in zip(labels, matrix.reshape(len(labels), -1)):
            writer.writerow([label, *(_cell(v) for v in row)])
    return out.getvalue()


def _lines(values: Any) -> np.ndarray:
    """Values as lines for plotting: a series is one line, nested values one line per inner series."""
    a = np.atleast_1d(_array(values))
    return a.reshape(-1, a.shape[-1]).T if a.ndim > 1 else a


def _paired(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y as matplotlib pairs them (same number of rows); values of shapes that do not pair (a data
    generator of another task's length) are drawn point by point as far as both go."""
    if x.shape[0] == y.shape[0] and (x.ndim == 1 or y.ndim == 1 or x.shape == y.shape):
        return x, y
    n = min(x.size, y.size)
    return x.ravel()[:n], y.ravel()[:n]


def to_png(plot: dict) -> bytes:
    """A plot drawn with matplotlib's object API (no pyplot state): a line per curve (per inner series
    of nested values), the curves' names in the legend, log axes where the SED-ML asks."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=110)
    three_d = plot.get("kind") == "3d"
    ax = fig.add_subplot(projection="3d" if three_d else None)
    for curve in plot["curves"]:
        x, y = _paired(_lines(curve["x"]["values"]), _lines(curve["y"]["values"]))
        label = curve.get("name") or curve["id"]
        if three_d and curve.get("z") is not None:
            lines = ax.plot(x.ravel(), y.ravel(), _lines(curve["z"]["values"]).ravel(), label=label)
        else:
            lines = ax.plot(x, y, label=label)
        for extra in lines[1:]:  # one legend entry per curve
            extra.set_label("_" + label)
            extra.set_color(lines[0].get_color())
        if curve.get("log_x"):
            ax.set_xscale("log")
        if curve.get("log_y"):
            ax.set_yscale("log")
    first = plot["curves"][0] if plot["curves"] else {}
    ax.set_xlabel(plot.get("x_label") or _axis_label(first.get("x")))
    ax.set_ylabel(plot.get("y_label") or ("" if len(plot["curves"]) > 1 else _axis_label(first.get("y"))))
    ax.set_title(plot.get("name") or plot["id"])
    if plot["curves"]:
        ax.legend(fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _axis_label(axis: dict | None) -> str:
    if not axis:
        return ""
    return axis.get("name") or axis.get("label") or axis.get("id") or ""


def to_zip(answer: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        def put(name: str, data: str | bytes) -> None:
            zf.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), data, compress_type=zipfile.ZIP_DEFLATED)

        for key, report in answer["reports"].items():
            put(f"{key}.csv", to_csv(report))
        for key, plot in answer.get("plots", {}).items():
            put(f"{key}.png", to_png(plot))
        put("reports.h5", to_hdf5(answer))
        # as the JSON answer is written (web.json_response): numpy arrays as they are, NaN as null
        put("answer.json", orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY))
    return buffer.getvalue()


def render(answer: dict, media: str) -> dict | bytes:
    """The answer in ``media``: the dict itself for JSON, else the file's bytes."""
    if media == HDF5:
        return to_hdf5(answer)
    if media == ZIP:
        return to_zip(answer)
    return answer
