"""HTTP: one blueprint per concern, plus JSON errors and CORS/security headers."""

from __future__ import annotations

import secrets

from flask import Flask

from service.http import discovery, feedback, health, hooks, metrics_endpoint, smart
from service.http.errors import register_error_handlers
from service.http.headers import register_headers
from service.http.state import EXTENSION, AppState


def register_http(app: Flask, app_state: AppState) -> None:
    app.extensions[EXTENSION] = app_state
    for module in (discovery, hooks, feedback, health, smart):
        app.register_blueprint(module.bp)
    # The SMART launch cookie: signed, sent back only over https (browsers count http://localhost as secure),
    # never readable by script, and sent on the EHR's redirect back (a top-level navigation: Lax, not Strict).
    app.secret_key = app_state.settings.smart_session_key or secrets.token_bytes(32)
    app.session_interface = smart.LaunchCookie()
    app.config.update(
        SESSION_COOKIE_NAME="aza_cds_smart",
        SESSION_COOKIE_PATH="/smart/",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if not app_state.settings.metrics_port:  # else served on its own port by `serve` (service/serve.py)
        app.register_blueprint(metrics_endpoint.bp)
    register_error_handlers(app)
    register_headers(app, app_state.settings.cors_origins)


__all__ = ["AppState", "register_http"]
