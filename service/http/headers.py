"""CORS for browser clients (the CDS Hooks sandbox) and security headers, on every response, errors included."""

from __future__ import annotations

from flask import Flask, Response, request

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

COMMON_HEADERS = {
    **SECURITY_HEADERS,
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}


def register_headers(app: Flask, cors_origins: tuple[str, ...]) -> None:
    allow_any = "*" in cors_origins

    @app.after_request
    def add_headers(response: Response) -> Response:
        own_policy = response.headers.get("Content-Security-Policy")  # a page with its own (the SMART app) keeps it
        response.headers.update(COMMON_HEADERS)  # one update: this runs on every hook call
        if own_policy:
            response.headers["Content-Security-Policy"] = own_policy
        origin = request.headers.get("Origin")
        if allow_any:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif origin in cors_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers.add("Vary", "Origin")
        return response
