"""Fixtures of the job tests: one real redis-server per run, the services' side in-process (their real
engines), workers as real processes started by each test or module."""

from __future__ import annotations

import pytest

from jobs_support import RedisServer, WorkerProcess, service_app


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture()
def clean_redis(redis_server):
    """Each test starts with an empty store and empty queues."""
    redis_server.client().flushdb()
    return redis_server


@pytest.fixture(scope="session")
def static_jobs(redis_server):
    """The static service's job layer (and its one engine), as a route would use it."""
    app, jobs = service_app("static", redis_server.url, preload="e_coli_core,iMM904")
    yield jobs
    app.extensions["bioxen"].runtime.stop()


@pytest.fixture(scope="session")
def dynamic_jobs(redis_server):
    app, jobs = service_app("dynamic", redis_server.url, preload="gene_expression")
    yield jobs
    app.extensions["bioxen"].runtime.stop()


@pytest.fixture()
def static_worker(clean_redis):
    with WorkerProcess("static", clean_redis.url, preload="e_coli_core,iMM904") as worker:
        yield worker


@pytest.fixture()
def ecoli_worker(clean_redis):
    """A static worker with only e_coli_core compiled: starts in a third of the time (iMM904 is not
    compiled) for the tests whose jobs use e_coli_core alone."""
    with WorkerProcess("static", clean_redis.url, preload="e_coli_core") as worker:
        yield worker


@pytest.fixture()
def dynamic_worker(clean_redis):
    with WorkerProcess("dynamic", clean_redis.url, preload="gene_expression") as worker:
        yield worker
