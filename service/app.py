"""The application factory: wiring only, nothing clinical."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from service.config import ConfigError, Settings
from service.fhir import FhirClient
from service.hooks import HookEngine
from service.http import AppState, register_http
from service.knowledge import load_pack
from service.rules import CardPolicy
from service.store import SqlFeedbackStore, open_database

log = logging.getLogger("aza_cds")


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the app from a Settings object, or from `AZA_CDS_*` overrides on top of the environment."""
    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    if settings.auth == "required":
        raise ConfigError(
            "AZA_CDS_AUTH=required: JWT verification of EHR calls is not in this version yet. "
            "Set AZA_CDS_AUTH=off, and only on a machine no EHR or other client can reach."
        )
    log.warning("authentication is off (AZA_CDS_AUTH=off): any client can call this service")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    fhir_client = FhirClient(
        settings.fhir_allowlist,
        budget_seconds=settings.fhir_timeout_seconds,
        max_pages=settings.fhir_max_pages,
        max_response_bytes=settings.fhir_max_response_bytes,
    )
    app_state = AppState(
        settings=settings,
        engine=HookEngine(
            load_pack(settings.knowledge_dir),
            fhir_client,
            CardPolicy(info_cards=settings.info_cards, order_sign_info=settings.order_sign_info),
        ),
        feedback=SqlFeedbackStore(open_database(settings.sqlalchemy_url)),
        **({"hash_key": settings.patient_hash_key.encode()} if settings.patient_hash_key else {}),
    )
    register_http(app, app_state)
    return app
