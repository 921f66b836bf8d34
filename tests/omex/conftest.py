"""Fixtures of the OMEX tests: a dynamic service of the tests' own whose temporary directory is a folder
the test can watch, with small archive limits, so the refusals of hostile archives are quick to reach."""

from __future__ import annotations

import pytest

from omex_support import LIMITS
from support import ServiceProcess


@pytest.fixture(scope="module")
def watched_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("service-tmp")


@pytest.fixture(scope="module")
def guarded(watched_tmp):
    """A one-worker dynamic service whose TMPDIR is ``watched_tmp``."""
    with ServiceProcess("dynamic", workers=1, preload="gene_expression",
                        env={**LIMITS, "TMPDIR": str(watched_tmp)}) as proc:
        yield proc
