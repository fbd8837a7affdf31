"""Every call to the CDS services (discovery, hooks, feedback) carries a verified JWT, except CORS preflights."""

from __future__ import annotations

import logging

from flask import Flask, g, request

from service.auth import AuthError, TokenVerifier
from service.http.errors import ApiError

log = logging.getLogger("aza_cds")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="aza-cds"'}


def register_auth(app: Flask, verifier: TokenVerifier, public_url: str, metrics) -> None:
    @app.before_request
    def require_token():
        if request.method == "OPTIONS" or not request.path.startswith("/cds-services"):
            return None
        audience = (public_url or request.host_url.rstrip("/")) + request.path
        try:
            verified = verifier.verify(request.headers.get("Authorization"), audience)
        except AuthError as refusal:
            # The reason is for operators; the token itself is never logged.
            log.warning("auth refused path=%s reason=%s", request.path, refusal)
            metrics.auth_failures.inc()
            raise ApiError(401, "unauthorized", "A valid bearer token is required.", headers=CHALLENGE) from None
        g.token = verified
        if request.endpoint not in (
            "hooks.call_service",
            "feedback.feedback",
        ):  # those log one line a call of their own
            log.info("auth ok %s %s iss=%s jti=%s", request.method, request.path, verified.iss, verified.jti)
        return None
