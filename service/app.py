"""The application factory: wiring only, nothing clinical."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service.auth import TokenVerifier, TrustStore
from service.config import ConfigError, Settings
from service.fhir import FhirClient
from service.hooks import HookPipeline
from service.http import AppState, register_http
from service.http.auth import register_auth
from service.knowledge import KnowledgePack, load_pack
from service.observability.metrics import Metrics
from service.protocol import compile_hot_path
from service.rules import CardPolicy
from service.smart import SmartApp
from service.store import Storage

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("aza_cds")


DEV_TRUST_FILE = Path(__file__).resolve().parent / "auth" / "dev-trust.json"


def create_app(
    config: Settings | Mapping[str, Any] | None = None,
    *,
    pack: KnowledgePack | None = None,
    storage: Storage | None = None,
    fhir_transport: httpx.BaseTransport | None = None,
) -> Flask:
    """Build the app from a Settings object, or from `AZA_CDS_*` overrides on top of the environment.

    What the settings would open can be handed in instead (tests, tools): an already loaded knowledge `pack`, the
    `storage` (default: the SQL database of the settings) and the `fhir_transport` FHIR call-backs go through."""
    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    trust_files = [path for path in (settings.trust_file, DEV_TRUST_FILE if settings.dev else None) if path]
    if settings.auth == "required" and not trust_files:
        raise ConfigError(
            "AZA_CDS_AUTH=required needs AZA_CDS_TRUST_FILE naming the EHRs to trust "
            "(or `aza-cds serve --dev` to trust the CDS Hooks sandbox on a development machine)."
        )
    if settings.auth == "required" and not settings.public_url and not settings.dev:
        raise ConfigError(
            "AZA_CDS_AUTH=required needs AZA_CDS_PUBLIC_URL, the URL EHRs call (e.g. https://cds.example.org): "
            "a token's audience must match it, and it is never taken from the request's Host header."
        )
    if settings.dev:
        log.warning(
            "DEVELOPER MODE: the CDS Hooks sandbox's published key is trusted and http call-backs to "
            "loopback are allowed. Anyone can mint sandbox tokens: never use --dev with real patient data."
        )
        if settings.auth == "required" and not settings.public_url:
            log.warning("AZA_CDS_PUBLIC_URL is not set: in developer mode a token's expected audience follows the "
                        "request's Host header; set it wherever the service is reachable by others")  # fmt: skip
        if not settings.fhir_allowlist:
            log.warning(
                "AZA_CDS_FHIR_ALLOWLIST is empty: when a call lacks prefetch data the service answers 412, which the "
                "CDS Hooks sandbox shows as 'All clear'. To let the service fetch it, start it with "
                "AZA_CDS_FHIR_ALLOWLIST=<the FHIR server URL in the sandbox's settings>."
            )
    if settings.auth == "off":
        log.warning("authentication is off (AZA_CDS_AUTH=off): any client can call this service")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if settings.trusted_proxies:  # X-Forwarded-* are believed only from this many proxies in front, never by default
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
    if storage is None:
        storage = Storage.sql(settings.sqlalchemy_url, settings.audit_retention_days, settings.audit_flush_seconds)
    metrics = Metrics()
    fhir_client = FhirClient(
        settings.fhir_allowlist,
        allow_loopback_http=settings.dev,
        observe=metrics.fhir_call,
        budget_seconds=settings.fhir_timeout_seconds,
        max_pages=settings.fhir_max_pages,
        max_response_bytes=settings.fhir_max_response_bytes,
        transport=fhir_transport,
    )
    smart = SmartApp.from_settings(settings, fhir_client)
    app_state = AppState(
        settings=settings,
        pipeline=HookPipeline(
            pack or load_pack(settings.knowledge_dir),
            fhir_client,
            CardPolicy(info_cards=settings.info_cards, order_sign_info=settings.order_sign_info),
            lab_prefetch=settings.lab_prefetch,
            condition_prefetch=settings.condition_prefetch,
            timeline_url=smart.launch_url if smart else "",
        ),
        storage=storage,
        metrics=metrics,
        smart=smart,
        **({"hash_key": settings.patient_hash_key.encode()} if settings.patient_hash_key else {}),
    )
    register_http(app, app_state)
    compile_hot_path()
    if settings.auth == "required":
        verifier = TokenVerifier(TrustStore.from_files(trust_files), storage.token_ids)
        register_auth(app, verifier, settings.public_url, metrics)
    return app
