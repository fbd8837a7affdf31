"""HTTP: one blueprint per concern, plus JSON errors and CORS/security headers."""

from __future__ import annotations

from flask import Flask

from service.http import discovery, feedback, health, hooks, metrics_endpoint
from service.http.errors import register_error_handlers
from service.http.headers import register_headers
from service.http.state import EXTENSION, AppState


def register_http(app: Flask, app_state: AppState) -> None:
    app.extensions[EXTENSION] = app_state
    for module in (discovery, hooks, feedback, health):
        app.register_blueprint(module.bp)
    if not app_state.settings.metrics_port:  # else served on its own port by `serve` (service/serve.py)
        app.register_blueprint(metrics_endpoint.bp)
    register_error_handlers(app)
    register_headers(app, app_state.settings.cors_origins)


__all__ = ["AppState", "register_http"]
