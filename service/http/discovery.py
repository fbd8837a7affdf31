"""GET /cds-services: the discovery document."""

from __future__ import annotations

from flask import Blueprint

from service.hooks import SERVICES
from service.http.errors import json_response
from service.http.state import state

bp = Blueprint("discovery", __name__)


@bp.get("/cds-services")
def discovery():
    prefetch = state().pipeline.prefetch
    return json_response({"services": [service.discovery(prefetch) for service in SERVICES.values()]})
