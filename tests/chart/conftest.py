"""Session fixtures of the chart tests: each values scenario is rendered once by the real Helm."""

from __future__ import annotations

import pytest

from chart_support import ci_values, render


@pytest.fixture(scope="session")
def objects() -> list[dict]:
    return render()


@pytest.fixture(scope="session")
def full_objects() -> list[dict]:
    return render(ci_values("full"))


@pytest.fixture(scope="session")
def minimal_objects() -> list[dict]:
    return render(ci_values("autoscaling-off"))
