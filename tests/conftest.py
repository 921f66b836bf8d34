"""Session-wide fixtures: the real services, started once per test run as real processes (``bioxen serve``), and
the in-process engines on the same shipped models for comparisons."""

from __future__ import annotations

import pytest

from support import ServiceProcess


@pytest.fixture(scope="session")
def static_service():
    """The static metabolic service (2 workers) on a free loopback port."""
    with ServiceProcess("static", workers=2) as proc:
        yield proc


@pytest.fixture(scope="session")
def dynamic_service():
    """The dynamic kinetic service (2 workers) on a free loopback port."""
    with ServiceProcess("dynamic", workers=2) as proc:
        yield proc


@pytest.fixture(scope="session")
def static_url(static_service) -> str:
    return static_service.url


@pytest.fixture(scope="session")
def dynamic_url(dynamic_service) -> str:
    return dynamic_service.url
