"""The answer's other forms (services/bioxen_services/omex/outputs.py) against the BioSimulators reference
files: the reports of each reference ``reports.h5`` in ../shared/omex, read as the JSON answer carries them,
written back as HDF5, must give the reference's datasets, attributes and numbers; the CSV holds the same
numbers under the labels; a plot renders to a PNG with the curves drawn."""

from __future__ import annotations

import csv
import io
import zipfile

import h5py
import numpy as np
import pytest

from bioxen_services.omex import outputs
from omex_support import ECOLI, REPRESSILATOR, SHARED

REFERENCES = sorted(p.parent.name for p in SHARED.glob("*/reports.h5"))
REPORT_ATTRS = ("_type", "uri", "sedmlId", "sedmlDataSetIds", "sedmlDataSetLabels", "sedmlDataSetNames",
                "sedmlDataSetShapes", "sedmlDataSetDataTypes")


def _values(row: np.ndarray, shape: str):
    if not shape:
        return float(row.ravel()[0])
    dims = tuple(int(n) for n in shape.split(","))
    return row[tuple(slice(0, n) for n in dims)].tolist()


def reference_answer(name: str) -> tuple[dict, h5py.File]:
    """The reference file's reports as the JSON answer holds them (its SedReport datasets)."""
    h5 = h5py.File(SHARED / name / "reports.h5", "r")
    reports = {}

    def visit(path, obj):
        if isinstance(obj, h5py.Dataset) and obj.attrs.get("_type") == "SedReport":
            a = obj.attrs
            reports[path] = {"id": a["sedmlId"], "name": a.get("sedmlName"), "data_sets": [
                {"id": i, "label": label, "name": n or None, "values": _values(row, shape)}
                for i, label, n, shape, row in zip(a["sedmlDataSetIds"], a["sedmlDataSetLabels"],
                                                   a["sedmlDataSetNames"], a["sedmlDataSetShapes"], obj[()])]}

    h5.visititems(visit)
    return {"reports": reports, "plots": {}}, h5


@pytest.mark.parametrize("name", REFERENCES)
def test_hdf5_has_the_reference_layout(name):
    answer, reference = reference_answer(name)
    assert answer["reports"], "the reference holds reports"
    with reference, h5py.File(io.BytesIO(outputs.to_hdf5(answer)), "r") as ours:
        for key in answer["reports"]:
            ref, got = reference[key], ours[key]
            for attr in REPORT_ATTRS:
                assert list(np.atleast_1d(got.attrs[attr])) == list(np.atleast_1d(ref.attrs[attr])), (key, attr)
            assert got.attrs.get("sedmlName") == ref.attrs.get("sedmlName")
            assert got.shape == ref.shape
            np.testing.assert_array_equal(got[()], ref[()])
            sedml = key.rsplit("/", 1)[0]
            assert ours[sedml].attrs["uri"] == reference[sedml].attrs["uri"]
            assert ours[sedml].attrs["combineArchiveLocation"] == reference[sedml].attrs["combineArchiveLocation"]


@pytest.mark.parametrize("name", [REPRESSILATOR, ECOLI])
def test_csv_holds_the_numbers_under_the_labels(name):
    answer, reference = reference_answer(name)
    reference.close()
    for key, report in answer["reports"].items():
        rows = list(csv.reader(io.StringIO(outputs.to_csv(report))))
        assert rows[0] == [ds["label"] for ds in report["data_sets"]]
        for column, ds in enumerate(report["data_sets"]):
            expected = np.atleast_1d(ds["values"])
            np.testing.assert_array_equal([float(r[column]) for r in rows[1:]], expected)


def test_a_plot_renders_its_curves(tmp_path):
    from matplotlib.image import imread

    answer, reference = reference_answer(REPRESSILATOR)
    reference.close()
    report = answer["reports"]["simulation.sedml/report"]
    time, *series = report["data_sets"]
    plot = {"id": "p", "name": "Repressilator", "kind": "2d", "curves": [
        {"id": ds["id"], "name": ds["label"], "x": {"id": time["id"], "label": time["label"], "values": time["values"]},
         "y": {"id": ds["id"], "label": ds["label"], "values": ds["values"]}, "log_x": False, "log_y": False}
        for ds in series[:3]]}
    png = outputs.to_png(plot)
    assert png.startswith(b"\x89PNG")
    (tmp_path / "p.png").write_bytes(png)
    pixels = imread(tmp_path / "p.png")
    coloured = np.abs(pixels[..., 0] - pixels[..., 2]) > 0.3  # curve colours, not grey axes or white
    assert coloured.sum() > 500


def test_the_zip_answer_holds_every_form():
    answer, reference = reference_answer(REPRESSILATOR)
    reference.close()
    with zipfile.ZipFile(io.BytesIO(outputs.to_zip(answer))) as zf:
        names = set(zf.namelist())
        assert names == {"reports.h5", "answer.json", *(f"{key}.csv" for key in answer["reports"])}
        assert zf.read("reports.h5") == outputs.to_hdf5(answer)


def test_nested_and_unpaired_series_still_draw():
    """Nested values (a repeated task: runs x points) draw a line per run; series that do not pair with
    their x (another length) are drawn as far as both go instead of failing the whole answer."""
    answer, reference = reference_answer(REPRESSILATOR)
    reference.close()
    time, protein = answer["reports"]["simulation.sedml/report"]["data_sets"][:2]
    runs = [protein["values"], [v / 2 for v in protein["values"]]]
    axis = lambda ds, values: {"id": ds["id"], "label": ds["label"], "values": values}  # noqa: E731
    for y in (runs, protein["values"][:100]):
        plot = {"id": "scan", "kind": "2d", "curves": [
            {"id": "c", "name": "LacI", "x": axis(time, time["values"]), "y": axis(protein, y)}]}
        assert outputs.to_png(plot).startswith(b"\x89PNG")
