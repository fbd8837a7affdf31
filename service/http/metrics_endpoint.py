"""GET /metrics in the Prometheus text format: every worker's values when they share a folder, else this app's."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from service.http.state import state
from service.observability.metrics import workers_registry

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    registry = workers_registry() or state().metrics.registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
