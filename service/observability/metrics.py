"""The service's Prometheus metrics, correct under several gunicorn workers.

With PROMETHEUS_MULTIPROC_DIR set (as `aza-cds serve` does), every worker writes its values to files there and the
scrape adds them up (`workers_registry`); otherwise (tests, one process) the app's own registry is served.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("aza_cds_hook_requests", "Hook calls by service hook and HTTP status",
                                ["hook", "status"], registry=self.registry)  # fmt: skip
        self.latency = Histogram("aza_cds_hook_seconds", "Hook call latency by hook and HTTP status",
                                 ["hook", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)  # fmt: skip
        self.cards = Counter("aza_cds_cards", "Cards returned by rule and indicator", ["rule", "indicator"],
                             registry=self.registry)  # fmt: skip
        self.fhir_latency = Histogram("aza_cds_fhir_callback_seconds", "FHIR call-back latency",
                                      buckets=LATENCY_BUCKETS, registry=self.registry)  # fmt: skip
        self.fhir_errors = Counter("aza_cds_fhir_callback_errors", "Failed FHIR call-backs", registry=self.registry)
        self.auth_failures = Counter("aza_cds_auth_failures", "Refused tokens", registry=self.registry)

    def hook_call(self, hook: str, status: int, seconds: float, cards: list[dict]) -> None:
        self.requests.labels(hook, str(status)).inc()
        self.latency.labels(hook, str(status)).observe(seconds)
        for card in cards:
            self.cards.labels(card["source"]["topic"]["code"], card["indicator"]).inc()

    def fhir_call(self, seconds: float, ok: bool) -> None:
        self.fhir_latency.observe(seconds)
        if not ok:
            self.fhir_errors.inc()


def workers_registry() -> CollectorRegistry | None:
    """All workers' values added up, when they write them to PROMETHEUS_MULTIPROC_DIR (`aza-cds serve`)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return None
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    return registry
