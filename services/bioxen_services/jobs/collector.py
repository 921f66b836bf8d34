"""Prometheus gauges read from the job store at each scrape: chunks waiting per engine, jobs by state."""

from __future__ import annotations

import logging

import redis
from prometheus_client.core import GaugeMetricFamily

from .store import JobStore

log = logging.getLogger(__name__)


class JobCollector:
    def __init__(self, store: JobStore):
        self.store = store

    def describe(self):
        return []  # nothing to check at registration (collect reads Redis)

    def collect(self):
        try:
            length = self.store.queue_length()
            counts = self.store.counts()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("job metrics left out: the job store cannot be reached (%s)", exc)
            return
        service = self.store.service
        queue = GaugeMetricFamily("bioxen_job_queue_length", "Job chunks waiting for a worker", labels=["service"])
        queue.add_metric([service], length)
        yield queue
        jobs = GaugeMetricFamily("bioxen_jobs", "Jobs by state (ended ones while their results are kept)",
                                 labels=["service", "state"])
        for state, count in counts.items():
            jobs.add_metric([service, state], count)
        yield jobs
