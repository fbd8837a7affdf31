"""Liveness and readiness for load balancers and orchestrators; outside /cds-services, so no token is needed."""

from __future__ import annotations

from flask import Blueprint

from service.http.errors import json_response
from service.http.state import state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Alive: the process answers."""
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready: the knowledge pack is loaded and the database answers."""
    app = state()
    checks = {"knowledge_pack": f"{app.pipeline.pack.id} {app.pipeline.pack.version}"}
    try:
        app.storage.ping()
        checks["database"] = "ok"
    except Exception:  # any driver error means not ready; the detail stays in the server log
        checks["database"] = "unreachable"
        return json_response({"status": "not ready", "checks": checks}, 503)
    return json_response({"status": "ready", "checks": checks})
