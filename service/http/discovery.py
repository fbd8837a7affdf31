"""GET /cds-services: the discovery document."""

from __future__ import annotations

from flask import Blueprint

from service.hooks import SERVICES
from service.http.errors import json_response

bp = Blueprint("discovery", __name__)


@bp.get("/cds-services")
def discovery():
    return json_response({"services": [service.discovery() for service in SERVICES.values()]})
