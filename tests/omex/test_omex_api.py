"""``POST /v1/omex`` on both real services with published archives (../shared/omex): the archive sent as
the body, as a multipart field or as base64 JSON gives one answer; the JSON, HDF5 and zip answers hold the
same reports; each service refuses the other's archive with 422 naming the task; the client picks the
service itself and gives DataFrames; ``bioxen omex`` writes reports.h5, the CSVs and the plots."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import requests

from omex_support import ECOLI, REPRESSILATOR, SHARED, comparable, example, published
from sedml_support import extract, reference_archives

#: the published archive each service runs (a CVODE time course; an FBA of e_coli_core)
ARCHIVES = {"dynamic": REPRESSILATOR, "static": ECOLI}
OTHER = {"dynamic": "static", "static": "dynamic"}
BIN = Path(sys.executable).parent
#: the archive with two 200-hour Gillespie runs (several seconds each way)
SLOW_ARCHIVE = "Vilar-PNAS-2002-minimal-circardian-clock"


def omex(url: str, data: bytes, accept: str = "application/json", **kwargs) -> requests.Response:
    if "files" not in kwargs and "json" not in kwargs:
        kwargs["data"] = data
        kwargs["headers"] = {"Content-Type": "application/zip"}
    kwargs.setdefault("headers", {})["Accept"] = accept
    return requests.post(url + "/v1/omex", timeout=120, **kwargs)


def as_array(values) -> np.ndarray:
    return np.asarray(values if values is not None else np.nan, dtype=float)


@pytest.fixture(scope="module")
def answers(static_url, dynamic_url):
    """Each service's JSON answer on its published archive."""
    urls = {"static": static_url, "dynamic": dynamic_url}
    out = {}
    for service, name in ARCHIVES.items():
        resp = omex(urls[service], published(name))
        assert resp.status_code == 200, resp.text[:1000]
        out[service] = (urls[service], resp.json())
    return out


@pytest.mark.parametrize("service", ["static", "dynamic"])
def test_the_reports_are_those_the_archive_expects(service, answers):
    """Ids, labels and numbers of points as expected-results.json lists them; the deterministic
    Repressilator's numbers within 1e-3 of each series' largest magnitude of the reference reports.h5."""
    _, answer = answers[service]
    name = ARCHIVES[service]
    expected = json.loads((SHARED / name / "expected-results.json").read_text())
    with h5py.File(SHARED / name / "reports.h5", "r") as ref:
        for report in expected["expectedReports"]:
            got = answer["reports"][report["id"]]
            pairs = [(d["id"], d["label"]) for d in got["data_sets"]]
            assert set(pairs) == {(d["id"], d["label"]) for d in report["dataSets"]}
            assert [i for i, _ in pairs] == list(ref[report["id"]].attrs["sedmlDataSetIds"])  # report order
            for ds in got["data_sets"]:
                assert list(np.atleast_1d(as_array(ds["values"])).shape) == (report["points"] or [1])
    if service == "dynamic":
        with h5py.File(SHARED / name / "reports.h5", "r") as ref:
            for key, report in answer["reports"].items():
                for row, ds in zip(ref[key][()], report["data_sets"]):
                    scale = max(np.abs(row).max(), 1e-300)
                    assert np.abs(as_array(ds["values"]) - row).max() <= 1e-3 * scale, (key, ds["id"])


@pytest.mark.parametrize("service", ["static", "dynamic"])
def test_json_hdf5_and_zip_hold_the_same_reports(service, answers):
    url, answer = answers[service]
    data = published(ARCHIVES[service])
    h5 = omex(url, data, "application/x-hdf5")
    assert h5.status_code == 200 and h5.headers["Content-Type"] == "application/x-hdf5"
    packed = omex(url, data, "application/zip")
    assert packed.status_code == 200 and packed.headers["Content-Type"] == "application/zip"
    with h5py.File(io.BytesIO(h5.content), "r") as reports:
        for key, report in answer["reports"].items():
            dataset = reports[key]
            assert list(dataset.attrs["sedmlDataSetIds"]) == [d["id"] for d in report["data_sets"]]
            assert list(dataset.attrs["sedmlDataSetLabels"]) == [d["label"] for d in report["data_sets"]]
            for row, ds in zip(dataset[()], report["data_sets"]):
                values = np.atleast_1d(as_array(ds["values"]))
                np.testing.assert_array_equal(row[:values.size].reshape(values.shape), values)
    with zipfile.ZipFile(io.BytesIO(packed.content)) as zf:
        names = set(zf.namelist())
        assert comparable(json.loads(zf.read("answer.json"))) == comparable(answer)
        assert zf.read("reports.h5")[:8] == b"\x89HDF\r\n\x1a\n"
        for key, report in answer["reports"].items():
            rows = list(csv.reader(io.StringIO(zf.read(f"{key}.csv").decode())))
            assert rows[0] == [d["label"] for d in report["data_sets"]]
        assert names >= {f"{key}.png" for key in answer["plots"]}
        for key in answer["plots"]:
            assert zf.read(f"{key}.png").startswith(b"\x89PNG")


@pytest.mark.parametrize("service", ["static", "dynamic"])
def test_multipart_and_base64_json_give_the_same_answer(service, answers):
    url, answer = answers[service]
    data = published(ARCHIVES[service])
    form = omex(url, data, files={"archive": ("archive.omex", data, "application/zip")})
    assert form.status_code == 200, form.text[:500]
    assert comparable(form.json()) == comparable(answer)
    encoded = omex(url, data, json={"archive": base64.b64encode(data).decode()})
    assert encoded.status_code == 200, encoded.text[:500]
    assert comparable(encoded.json()) == comparable(answer)


@pytest.mark.parametrize("service", ["static", "dynamic"])
def test_the_other_services_archive_is_refused_naming_its_task(service, static_url, dynamic_url):
    url = {"static": static_url, "dynamic": dynamic_url}[OTHER[service]]
    resp = omex(url, published(ARCHIVES[service]))
    assert resp.status_code == 422, resp.text[:500]
    error = resp.json()["error"]
    assert error["code"] == "unsupported_task"
    assert error["details"]["task"] in error["message"]


def test_a_form_without_the_archive_field_and_an_unknown_accept(dynamic_url):
    resp = omex(dynamic_url, b"", files={"model": ("m.omex", example("dynamic"), "application/zip")})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("the multipart form has no field 'archive'")
    resp = omex(dynamic_url, example("dynamic"), accept="text/csv")
    assert resp.status_code == 406 and resp.json()["error"]["code"] == "not_acceptable"


def test_the_document_declares_the_three_bodies_and_answers(dynamic_url):
    doc = requests.get(dynamic_url + "/openapi.json", timeout=30).json()
    op = doc["paths"]["/v1/omex"]["post"]
    assert set(op["requestBody"]["content"]) == {"application/json", "application/zip", "multipart/form-data"}
    assert set(op["responses"]["200"]["content"]) == {"application/json", "application/x-hdf5", "application/zip"}
    assert op["requestBody"]["content"]["multipart/form-data"]["schema"]["required"] == ["archive"]
    assert "406" in op["responses"] and "413" in op["responses"]


# -- the client and the command line ---------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(p.parent.name for p in SHARED.glob("*/expected-results.json")))
def test_the_client_picks_the_service_from_the_algorithms(name):
    from bioxen_vm.omex import service_for

    tasks = json.loads((SHARED / name / "expected-results.json").read_text())["taskRequirements"]
    fba = any(t["simulationAlgorithm"] == "KISAO_0000437" for t in tasks)
    assert service_for(published(name)) == ("static" if fba else "dynamic")


def test_run_omex_gives_dataframes_and_saves_the_files(answers, static_url, dynamic_url, tmp_path):
    from bioxen_vm import BiologicalComputationClient

    with BiologicalComputationClient(static_url, dynamic_url) as client:
        result = client.run_omex(SHARED / REPRESSILATOR / f"{REPRESSILATOR}.omex")
    assert result.service == "dynamic"
    assert comparable(result.answer) == comparable(answers["dynamic"][1])
    for key, report in result.answer["reports"].items():
        frame = result.reports[key]
        assert list(frame.columns) == [d["label"] for d in report["data_sets"]]
        for ds in report["data_sets"]:
            np.testing.assert_array_equal(frame[ds["label"]].to_numpy(), as_array(ds["values"]))
    written = {p.relative_to(tmp_path).as_posix() for p in result.save(tmp_path)}
    assert written == {"reports.h5", "answer.json", *(f"{k}.csv" for k in result.answer["reports"]),
                       *(f"{k}.png" for k in result.answer["plots"])}


def test_bioxen_omex_writes_reports_csvs_and_plots(answers, static_url, dynamic_url, tmp_path):
    archive = SHARED / ECOLI / f"{ECOLI}.omex"
    run = subprocess.run([str(BIN / "bioxen"), "omex", str(archive), "--out", str(tmp_path / "out"),
                          "--static-url", static_url, "--dynamic-url", dynamic_url],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    answer = answers["static"][1]
    out = tmp_path / "out"
    assert "service: static" in run.stdout
    for key, report in answer["reports"].items():
        assert f"report {key}: {len(report['data_sets'])} data sets" in run.stdout
        assert (out / f"{key}.csv").is_file()
    with h5py.File(out / "reports.h5", "r") as h5:
        assert set(answer["reports"]) <= {name for name in _datasets(h5)}
    for key in answer["plots"]:
        assert (out / f"{key}.png").read_bytes().startswith(b"\x89PNG")


def _datasets(h5: h5py.File) -> list[str]:
    found = []
    h5.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
    return found


def test_the_clients_body_is_the_declared_one():
    """What run_omex and submit_omex send is what the route's declaration accepts, archive bytes intact."""
    from bioxen_services.api.omex import OmexRequest
    from bioxen_vm.omex import request_body

    data = example("static")
    for seed in (None, 7):
        parsed = OmexRequest.parse(request_body(data, seed))
        assert parsed.archive == data and parsed.seed == seed


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == SLOW_ARCHIVE else n
                                  for n in reference_archives()])
def test_every_published_archive_runs_on_its_service_exactly_as_in_process(name, static_url, dynamic_url, tmp_path):
    """Each archive of ../shared/omex, sent to the service the client picks for it, answers exactly what
    ``run_experiment`` gives in-process with the same seed (the run that test_sedml_reference.py holds
    against the references): the service's engines and encoding change no number."""
    from bioxen_services.omex.execute import run_experiment
    from bioxen_vm.omex import service_for

    data = published(name)
    service = service_for(data)
    resp = omex({"static": static_url, "dynamic": dynamic_url}[service], b"",
                json={"archive": base64.b64encode(data).decode(), "seed": 3})
    assert resp.status_code == 200, resp.text[:1000]
    in_process = run_experiment(str(tmp_path), extract(name, tmp_path), service, {"seed": 3})
    assert comparable(resp.json()) == comparable(json.loads(json.dumps(in_process)))
