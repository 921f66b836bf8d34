"""An archive is untrusted input (issue 16): each hostile archive is refused with its 4xx and stable code,
nothing is written outside the request's temporary directory, and that directory is gone after the
answer, whatever the answer. Sent to a real dynamic service whose TMPDIR the test watches."""

from __future__ import annotations

import os
import threading
import time

import pytest
import requests

from omex_support import (
    LIMITS,
    SEDML_FORMAT,
    build,
    declare_size,
    entries,
    example,
    manifest,
    with_entry,
)

BASE = example("dynamic")
FILES = entries(BASE)
SEDML = FILES["simulation.sedml"].decode()
SBML_FORMAT = "http://identifiers.org/combine.specifications/sbml"
BASE_MANIFEST = (("./model.xml", SBML_FORMAT), ("./simulation.sedml", SEDML_FORMAT))


def replaced(**files) -> bytes:
    """The example archive with some entries replaced (keyword: entry name with dots as __)."""
    out = dict(FILES)
    out.update({name.replace("__", "."): data for name, data in files.items()})
    return build(out)


def with_source(source: str) -> bytes:
    return replaced(simulation__sedml=SEDML.replace('source="model.xml"', f'source="{source}"'))


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<omexManifest xmlns="http://identifiers.org/combine.specifications/omex-manifest">&lol2;</omexManifest>
"""

#: (case, archive, status, code)
CASES = [
    ("not a zip", lambda: b"PK\x03\x04 this is not an archive", 400, "invalid_archive"),
    ("empty zip", lambda: build({}), 400, "invalid_manifest"),
    ("parent path", lambda: with_entry(BASE, "../evil.txt", "x"), 400, "unsafe_archive_entry"),
    ("nested parent path", lambda: with_entry(BASE, "a/../../evil.txt", "x"), 400, "unsafe_archive_entry"),
    ("absolute path", lambda: with_entry(BASE, "/tmp/evil.txt", "x"), 400, "unsafe_archive_entry"),
    ("drive letter", lambda: with_entry(BASE, "C:/evil.txt", "x"), 400, "unsafe_archive_entry"),
    ("backslash", lambda: with_entry(BASE, "a\\..\\..\\evil.txt", "x"), 400, "unsafe_archive_entry"),
    ("symlink", lambda: with_entry(BASE, "link.xml", "/etc/passwd", modes={"link.xml": 0o120777}),
     400, "unsafe_archive_entry"),
    ("fifo", lambda: with_entry(BASE, "pipe", "", modes={"pipe": 0o010644}), 400, "unsafe_archive_entry"),
    ("file under a file", lambda: with_entry(BASE, "model.xml/inner.xml", "x"), 400, "unsafe_archive_entry"),
    ("no manifest", lambda: build({k: v for k, v in FILES.items() if k != "manifest.xml"}), 400, "invalid_manifest"),
    ("malformed manifest", lambda: replaced(manifest__xml="<omexManifest><content"), 400, "invalid_manifest"),
    ("manifest with entities", lambda: replaced(manifest__xml=BILLION_LAUGHS), 400, "invalid_manifest"),
    ("manifest of another root", lambda: replaced(manifest__xml="<html/>"), 400, "invalid_manifest"),
    ("manifest names a missing file", lambda: replaced(manifest__xml=manifest(
        *BASE_MANIFEST, ("./absent.sedml", SEDML_FORMAT))), 400, "invalid_manifest"),
    ("manifest lists no SED-ML", lambda: replaced(manifest__xml=manifest(BASE_MANIFEST[0])), 400,
     "invalid_manifest"),
    ("malformed SED-ML", lambda: replaced(simulation__sedml="<sedML><listOfModels>"), 400, "invalid_archive"),
    ("model by URL", lambda: with_source("https://example.org/model.xml"), 400, "external_model"),
    ("model by URN", lambda: with_source("urn:miriam:biomodels.db:BIOMD0000000012"), 400, "external_model"),
    ("model by file URL", lambda: with_source("file:///etc/passwd"), 400, "external_model"),
    ("model outside the archive", lambda: with_source("../model.xml"), 400, "external_model"),
    ("model by absolute path", lambda: with_source("/etc/passwd"), 400, "external_model"),
    ("model not in the archive", lambda: with_source("other.xml"), 400, "external_model"),
    ("too many entries", lambda: build({**FILES, **{f"f{i}.txt": "x" for i in range(20)}}), 413,
     "archive_too_large"),
    ("too large unpacked", lambda: build({**FILES, **{f"r{i}.bin": random_bytes(1 << 20) for i in range(4)}},
                                         level=0), 413, "archive_too_large"),
    ("zip bomb", lambda: with_entry(BASE, "bomb.bin", bytes(2 << 20), level=9), 413, "archive_too_large"),
    ("header lies about the size", lambda: declare_size(with_entry(BASE, "big.bin", bytes(100_000)), "big.bin", 10),
     400, "invalid_archive"),
]


def snapshot(folder) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), folder) for d, dirs, files in os.walk(folder) for f in dirs + files}


@pytest.fixture()
def untouched(guarded, watched_tmp):
    """Asserts after the test that neither the service's temporary folder, its parent nor the working
    directory gained anything (a temporary directory left behind, or a file written by a hostile name)."""
    before = (snapshot(watched_tmp), set(os.listdir(watched_tmp.parent)), set(os.listdir(os.getcwd())))
    yield guarded
    after = (snapshot(watched_tmp), set(os.listdir(watched_tmp.parent)), set(os.listdir(os.getcwd())))
    assert after == before


def post(service, data: bytes, **headers) -> requests.Response:
    return requests.post(service.url + "/v1/omex", data=data, timeout=60,
                         headers={"Content-Type": "application/zip", **headers})


@pytest.mark.parametrize("case, make, status, code", CASES, ids=[c[0] for c in CASES])
def test_a_hostile_archive_is_refused_and_leaves_nothing(untouched, case, make, status, code):
    resp = post(untouched, make())
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code, error
    assert error["message"] and error["request_id"]


def test_names_the_entry_at_fault(guarded):
    error = post(guarded, with_entry(BASE, "../evil.txt", "x")).json()["error"]
    assert error["details"] == {"entry": "../evil.txt"}
    assert "'../evil.txt'" in error["message"]
    error = post(guarded, with_source("https://example.org/m.xml")).json()["error"]
    assert error["details"] == {"entry": "simulation.sedml", "source": "https://example.org/m.xml"}
    assert "nothing is fetched" in error["message"]


def test_the_temporary_directory_is_gone_whatever_the_answer(untouched, watched_tmp):
    """A valid archive is unpacked (into TMPDIR) and run; after the answer, success or failure, nothing
    of it remains. A stream that fails its check mid-unpacking is cleaned up too."""
    for data in (BASE, declare_size(with_entry(BASE, "zz.bin", bytes(50_000)), "zz.bin", 100)):
        resp = post(untouched, data)
        assert resp.status_code != 413, resp.text
        assert not list(watched_tmp.iterdir())


def slow_archive() -> bytes:
    """The example with its time course made a Gillespie run of 10^8 time units (about 10^8 reactions
    fire: minutes), far past the service's deadline."""
    sedml = SEDML.replace('outputEndTime="100"', 'outputEndTime="100000000"').replace("KISAO:0000019",
                                                                                      "KISAO:0000029")
    return replaced(simulation__sedml=sedml)


def test_the_temporary_directory_is_removed_when_the_engine_is_killed(untouched, watched_tmp):
    """The archive is unpacked under the service's TMPDIR while it runs; the run passes the deadline (504,
    its engine killed), and the directory is gone all the same."""
    seen: set[str] = set()
    answer: list[requests.Response] = []
    sender = threading.Thread(target=lambda: answer.append(post(untouched, slow_archive())))
    sender.start()
    while sender.is_alive():
        seen |= {p.name for p in watched_tmp.iterdir()}
        time.sleep(0.02)
    assert answer[0].status_code == 504, answer[0].text
    assert answer[0].json()["error"]["code"] == "timeout"
    assert any(name.startswith("bioxen-omex-") for name in seen), seen
    assert not list(watched_tmp.iterdir())


def test_the_body_limit_is_the_services(guarded):
    """The archive's own size is bounded by the service's body limit (413 payload_too_large)."""
    big = os.urandom(int(LIMITS["BIOXEN_MAX_BODY_BYTES"]) + 1)
    resp = post(guarded, big)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"



@pytest.mark.parametrize("fmt", ["http://identifiers.org/combine.specifications/sed-ml.level-1.version-3",
                                 "https://identifiers.org/combine.specifications/sed-ml",
                                 "http://purl.org/NET/mediatypes/application/sedml+xml"])
def test_the_sedml_formats_tools_write_are_recognised(fmt):
    """The manifest's SED-ML format as the COMBINE specification spells it (with a level/version, over
    https) and in the media-type form: each names the SED-ML file to run; an unrelated format does not."""
    from bioxen_services.errors import InvalidManifest
    from bioxen_services.omex.archive import Limits, read_archive

    def sedml_of(fmt: str) -> tuple[str, ...]:
        text = manifest(BASE_MANIFEST[0], ("./simulation.sedml", fmt))
        return read_archive(replaced(manifest__xml=text), Limits(100, 1 << 24, 200)).sedml

    assert sedml_of(fmt) == ("simulation.sedml",)
    with pytest.raises(InvalidManifest, match="lists no SED-ML file"):
        sedml_of("http://purl.org/NET/mediatypes/text/plain")


def test_unpacked_archives_of_processes_that_are_gone_are_swept(tmp_path):
    """What an engine killed mid-job leaves (``bioxen-omex-<its pid>-*``) is removed by the next job's
    sweep; a live process's directory and other names are left alone."""
    import subprocess
    import sys

    from bioxen_services.omex.archive import PREFIX, sweep_orphans

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = tmp_path / f"{PREFIX}{gone.pid}-abc"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "model.xml").write_text("<sbml/>")
    live = tmp_path / f"{PREFIX}{os.getpid()}-def"
    live.mkdir()
    other = tmp_path / "bioxen-omex-notapid"
    other.mkdir()
    assert sweep_orphans(str(tmp_path)) == [str(dead)]
    assert not dead.exists() and live.is_dir() and other.is_dir()
