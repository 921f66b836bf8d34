"""bioxen_common on its own: the token settings' one meaning, the shipped bytecode, the model-text hash."""

from __future__ import annotations

import hashlib
import re

import pytest

from bioxen_common.manifest import SHIPPED_DIR, default_dir, load_manifest
from bioxen_common.modeltext import sha256_text
from bioxen_common.token import TokenFileError, token_from_env


@pytest.mark.parametrize("env, token", [
    ({}, None),
    ({"BIOXEN_API_TOKEN": ""}, None),
    ({"BIOXEN_API_TOKEN": " \n"}, None),
    ({"BIOXEN_API_TOKEN": " s3cret\n"}, "s3cret"),
    ({"BIOXEN_API_TOKEN_FILE": "", "BIOXEN_API_TOKEN": "s3cret"}, "s3cret"),  # an empty name: no file
])
def test_token_from_the_environment(env, token):
    assert token_from_env(env) == token


@pytest.mark.parametrize("content, error", [
    ("s3cret\n", None),
    ("", "is empty"),
    ("  \n\t", "is empty"),
    (b"\xff\xfe", "is not UTF-8 text"),
    (None, "cannot be read: No such file or directory"),
])
def test_the_token_file_wins_and_must_hold_a_token(tmp_path, content, error):
    path = tmp_path / "token"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    env = {"BIOXEN_API_TOKEN_FILE": str(path), "BIOXEN_API_TOKEN": "from-the-variable"}
    if error is None:
        assert token_from_env(env) == "s3cret"
        return
    with pytest.raises(TokenFileError, match=re.escape(f"BIOXEN_API_TOKEN_FILE='{path}' {error}")):
        token_from_env(env)
    assert issubclass(TokenFileError, ValueError)  # a configuration error, as every other bad setting


def test_the_bytecode_ships_with_the_package(tmp_path):
    assert default_dir({}) == SHIPPED_DIR
    assert default_dir({"BIOXEN_BYTECODE_DIR": str(tmp_path)}) == tmp_path
    manifest = load_manifest(SHIPPED_DIR)
    assert manifest.root == SHIPPED_DIR and manifest.metabolic_models["e_coli_core"].path.is_file()


def test_model_text_is_named_by_the_sha256_of_its_utf8():
    text = "model m\n  S1 -> S2; k1*S1\n  k1 = 0.1; S1 = 10\nend  # \u00b5M\n"
    assert sha256_text(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
