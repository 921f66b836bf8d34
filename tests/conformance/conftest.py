"""The conformance tests need the shared SBML Test Suite cases beside the checkout."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import suite  # noqa: E402


@pytest.fixture(scope="session")
def suite_root() -> Path:
    if not suite.SEMANTIC.is_dir():
        pytest.skip(f"the shared SBML Test Suite cases are not at {suite.SUITE} (../shared/sbml-test-suite "
                    "from the checkout root)")
    return suite.SUITE
