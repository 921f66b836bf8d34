"""The client's settings, read once into one object (no network): every variable, its default, the
overrides given in code, and the README's table naming exactly the variables the code reads."""

from __future__ import annotations

import re

import pytest

from bioxen_common import token
from bioxen_common.manifest import ENV_DIR
from bioxen_vm import BiologicalComputationClient, BiologicalComputationHypervisor, Timeout
from bioxen_vm import settings as settings_module
from bioxen_vm.settings import ClientSettings
from support import ROOT


@pytest.fixture(autouse=True)
def no_pod(monkeypatch, tmp_path):
    """Not in a pod, whatever machine runs the tests."""
    monkeypatch.setattr(settings_module, "NAMESPACE_FILE", tmp_path / "namespace")


@pytest.mark.parametrize("name, value, field, expected", [
    ("BIOXEN_STATIC_URL", "a:1, http://b:2/", "static_urls", ("http://a:1", "http://b:2")),
    ("BIOXEN_DYNAMIC_URL", "http://c:3", "dynamic_urls", ("http://c:3",)),
    ("BIOXEN_API_TOKEN", " s3cret\n", "token", "s3cret"),
    ("BIOXEN_STRICT", "Yes", "strict", True),
    ("BIOXEN_STRICT", "0", "strict", False),
    ("BIOXEN_RELEASE", "prod", "release", "prod"),
    ("POD_NAMESPACE", "cells", "namespace", "cells"),
    ("BIOXEN_CLUSTER_DOMAIN", "example.org", "cluster_domain", "example.org"),
    ("BIOXEN_SERVICE_PORT", "9000", "service_port", 9000),
    ("BIOXEN_DNS_SERVER", "127.0.0.1:5353", "dns_server", "127.0.0.1:5353"),
    ("BIOXEN_DNS_TTL_MAX_SECONDS", "0.5", "dns_ttl_max", 0.5),
])
def test_each_variable_sets_its_field_and_an_empty_one_keeps_the_default(name, value, field, expected):
    assert getattr(ClientSettings.from_env({name: value}), field) == expected
    assert getattr(ClientSettings.from_env({name: ""}), field) == getattr(ClientSettings(), field)


def test_defaults():
    settings = ClientSettings.from_env({})
    assert settings == ClientSettings()
    assert (settings.static_urls, settings.token, settings.strict, settings.in_cluster) == ((), None, False, False)
    assert settings.hostname("static") == "bioxen-static.default.svc.cluster.local"
    assert (settings.service_port, settings.dns_ttl_max, settings.retries) == (8000, 5.0, 3)
    assert settings.timeout == Timeout(connect=3.0, read=120.0)


def test_the_namespace_file_of_a_pod(monkeypatch, tmp_path):
    (tmp_path / "namespace").write_text("lab\n")
    assert ClientSettings.from_env({}).namespace == "lab"
    assert ClientSettings.from_env({"POD_NAMESPACE": "cells"}).namespace == "cells"


@pytest.mark.parametrize("env, message", [
    ({"BIOXEN_SERVICE_PORT": "eighty"}, "BIOXEN_SERVICE_PORT='eighty' is not a port number"),
    ({"BIOXEN_SERVICE_PORT": "70000"}, "BIOXEN_SERVICE_PORT=70000 is not a port number"),
    ({"BIOXEN_DNS_TTL_MAX_SECONDS": "soon"}, "BIOXEN_DNS_TTL_MAX_SECONDS='soon' is not a number of seconds"),
    ({"BIOXEN_DNS_TTL_MAX_SECONDS": "-1"}, "BIOXEN_DNS_TTL_MAX_SECONDS=-1.0 must not be negative"),
])
def test_malformed_values_name_the_variable(env, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ClientSettings.from_env(env)


def test_arguments_override_the_settings_and_the_result_is_checked():
    base = ClientSettings.from_env({"BIOXEN_API_TOKEN": "from-env", "BIOXEN_STRICT": "1"})
    changed = base.replace(timeout=5, retries=0, token="given", static_urls="x:1", concurrency=None)
    assert (changed.timeout, changed.retries, changed.token, changed.static_urls) == (
        Timeout(3.0, 5.0), 0, "given", ("http://x:1",))
    assert changed.strict and changed.concurrency == 8 and base.retries == 3  # the rest kept, base unchanged
    with pytest.raises(ValueError, match="retries must be at least 0, got -1"):
        base.replace(retries=-1)
    with pytest.raises(ValueError, match="timeouts must be positive and finite"):
        base.replace(timeout=float("inf"))


def test_the_client_and_the_hypervisor_take_one_settings_object():
    settings = ClientSettings.from_env({"BIOXEN_STATIC_URL": "http://s:1", "BIOXEN_DYNAMIC_URL": "http://d:2",
                                        "BIOXEN_STRICT": "true", "BIOXEN_API_TOKEN": "t"})
    with BiologicalComputationClient(settings=settings, retries=1) as client:
        assert client.settings == settings.replace(retries=1)
        assert client.endpoints("static") == ["http://s:1"] and client.endpoints("dynamic") == ["http://d:2"]
        assert BiologicalComputationHypervisor(client).strict is True
        assert BiologicalComputationHypervisor(client, strict=False).strict is False
    with BiologicalComputationClient("http://explicit:9", settings=settings) as client:
        assert client.endpoints("static") == ["http://explicit:9"]  # explicit URLs beat the environment's
    with pytest.raises(TypeError, match="settings or environ"):
        BiologicalComputationClient(settings=settings, environ={})


def _readme_client_table() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Client settings", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE))


def test_the_readme_table_names_exactly_the_variables_the_client_reads():
    source = (ROOT / "vm_client" / "bioxen_vm" / "settings.py").read_text()
    read = set(re.findall(r'"((?:BIOXEN|POD)_[A-Z_]+)"', source))
    read |= {token.TOKEN_ENV, token.TOKEN_FILE_ENV, ENV_DIR}  # read through bioxen_common
    assert _readme_client_table() == read
