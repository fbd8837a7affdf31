"""The apps `aza-cds bench` measures aza-cds against, aza-cds itself as the benchmark builds it, and the timer.

- `floor_app`: a bare Flask app that parses the body and answers one fixed card.
- `auth_floor_app`: the same, after verifying the caller's JWT as a CDS service must (RS384 signature against the
  issuer's JWKS, issuer, audience, expiry and issue time) and recording its jti so that a replay is refused. The jti
  goes to a dict in memory, which costs less than aza-cds's database: a stricter floor, not an easier one.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import statistics
import tempfile
import threading
import time

import jwt
import orjson
from flask import Flask, Response, request

from service.http.state import state_of

FIXED_CARD = orjson.dumps({"cards": [{"summary": "floor", "indicator": "info", "source": {"label": "floor"}}]})
UNAUTHORIZED = orjson.dumps({"error": "unauthorized"})
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]


def floor_app(parser: str = "orjson") -> Flask:
    """Parse the body, return a fixed card. `parser` is "flask" (the idiomatic `request.get_json()`, the in-process
    reference) or "orjson" (the stricter floor, also served by gunicorn for the HTTP runs)."""
    app = Flask("floor")

    @app.post("/cds-services/<service_id>")
    def hook(service_id: str):
        request.get_json() if parser == "flask" else orjson.loads(request.get_data())
        return Response(FIXED_CARD, mimetype="application/json")

    return app


def auth_floor_app() -> Flask:
    """The orjson floor behind JWT verification; its trust file and audience come from the environment the benchmark
    sets (AZA_CDS_TRUST_FILE, AZA_CDS_PUBLIC_URL), as for aza-cds."""
    with open(os.environ["AZA_CDS_TRUST_FILE"]) as handle:
        issuer = json.load(handle)["issuers"][0]
    keys = {key["kid"]: jwt.PyJWK(key, algorithm="RS384") for key in issuer["jwks"]["keys"]}
    base = os.environ["AZA_CDS_PUBLIC_URL"].rstrip("/")
    seen: dict[str, float] = {}  # jti -> expiry
    lock = threading.Lock()
    app = Flask("auth-floor")

    @app.post("/cds-services/<service_id>")
    def hook(service_id: str):
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            claims = jwt.decode(token, keys[kid], algorithms=["RS384"], audience=f"{base}/cds-services/{service_id}",
                                issuer=issuer["iss"], options={"require": REQUIRED_CLAIMS})  # fmt: skip
        except (jwt.InvalidTokenError, KeyError):
            return Response(UNAUTHORIZED, status=401, mimetype="application/json")
        with lock:
            if claims["jti"] in seen:
                return Response(UNAUTHORIZED, status=401, mimetype="application/json")
            seen[claims["jti"]] = claims["exp"]
        orjson.loads(request.get_data())
        return Response(FIXED_CARD, mimetype="application/json")

    return app


def aza_in_process(overrides: dict | None = None, fhir_transport=None):
    """The service as `aza-cds serve` builds it (SQLite file, audit trail written in the background), without auth:
    tokens are measured over HTTP. Returns (test client, app)."""
    from service.app import create_app

    data = tempfile.mkdtemp(prefix="aza-bench-data-")
    settings = {"AZA_CDS_AUTH": "off", "AZA_CDS_DATA_DIR": data, **(overrides or {})}
    app = create_app(settings, fhir_transport=fhir_transport)

    def clean_up() -> None:
        state_of(app).storage.audit.close()  # its last rows, before the folder goes
        shutil.rmtree(data, ignore_errors=True)

    atexit.register(clean_up)
    return app.test_client(), app


def timings(call, runs: int, warmup: int = 20) -> dict:
    """Milliseconds per call after `warmup` calls: median, p90, p95 and p99."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    at = lambda share: samples[min(runs - 1, int(runs * share))]  # noqa: E731
    return {"median": statistics.median(samples), "p90": at(0.9), "p95": at(0.95), "p99": at(0.99)}
