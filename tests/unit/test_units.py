"""Small pieces on their own: the LRU cache, settings, the bytecode manifest, validation."""

from __future__ import annotations

import json
import shutil

import pytest

from bioxen_common.manifest import load_manifest
from bioxen_services.api.static import FbaRequest
from bioxen_services.cache import LRUCache
from bioxen_services.errors import ValidationError
from bioxen_services.settings import Settings
from support import BYTECODE


def test_lru_evicts_least_recently_used_by_count_and_bytes():
    evicted = []
    cache = LRUCache(max_items=2, max_bytes=100, on_evict=evicted.append)
    cache.put("a", 1, 10)
    cache.put("b", 2, 10)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3, 10)
    assert evicted == ["b"] and "a" in cache and "c" in cache
    cache.put("d", 4, 95)  # over the byte bound: everything older goes
    assert evicted == ["b", "a", "c"] and len(cache) == 1 and cache.bytes == 95


def test_settings_from_env_are_typed_and_checked():
    s = Settings.from_env({"BIOXEN_MAX_TIME_POINTS": "500", "BIOXEN_REQUEST_TIMEOUT_SECONDS": "2.5"})
    assert s.max_time_points == 500 and s.request_timeout_seconds == 2.5
    with pytest.raises(ValueError, match="BIOXEN_MAX_TIME_POINTS='many'"):
        Settings.from_env({"BIOXEN_MAX_TIME_POINTS": "many"})
    with pytest.raises(ValueError, match="at least 1"):
        Settings.from_env({"BIOXEN_MAX_SCAN_POINTS": "0"})
    with pytest.raises(ValueError, match="no bytecode manifest"):
        Settings.from_env({"BIOXEN_BYTECODE_DIR": "/nonexistent"})
    with pytest.raises(ValueError, match="unknown models"):
        Settings.from_env({"BIOXEN_PRELOAD": "e_coli_core,nope"}).preload_ids(["e_coli_core"])


def test_manifest_maps_every_chassis():
    manifest = load_manifest(BYTECODE)
    assert manifest.chassis_for("ecoli").metabolic_model == "e_coli_core"
    assert manifest.chassis_for("yeast").metabolic_model == "iMM904"
    for alias in ("syn3a", "minimal_cell", "base"):
        assert manifest.chassis_for(alias).metabolic_model == "iMB155"
    assert manifest.chassis_for("orthogonal").kinetic_programs[0] == "repressilator"
    with pytest.raises(ValueError, match="supported: base, ecoli"):
        manifest.chassis_for("archaea")


def test_manifest_refuses_missing_files(tmp_path):
    shutil.copytree(BYTECODE, tmp_path / "b")
    raw = json.loads((tmp_path / "b" / "manifest.json").read_text())
    raw["metabolic_models"]["e_coli_core"]["file"] = "metabolic/missing.xml"
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(FileNotFoundError, match="missing.xml"):
        load_manifest(tmp_path / "b")


@pytest.mark.parametrize("value, message", [
    ([1], "must be a pair"), (["a", 1], "must be a number"), ([1, float("nan")], "finite"),
    ([3, 2], "above upper bound"),
])
def test_bounds_validation(value, message):
    with pytest.raises(ValidationError, match=message):
        FbaRequest.parse({"model": {"id": "e_coli_core"}, "bounds": {"PGI": value}})


@pytest.mark.parametrize("model, message", [
    ({"id": "a", "sbml": "<x/>"}, "exactly one"), ({}, "exactly one"), ({"sha256": "abc"}, "64 lowercase"),
    ({"path": "/etc/passwd"}, "never read from a server path"), (7, "must be an object"),
])
def test_model_reference_validation(model, message):
    with pytest.raises(Exception, match=message):
        FbaRequest.parse({"model": model})
