"""Shared fixtures: the app and its test client, and a stub FHIR server on loopback."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import create_engine, text

from service import create_app

POSTGRES = os.environ.get("AZA_CDS_TEST_POSTGRES_URL", "")


@pytest.fixture
def database_url(tmp_path):
    """SQLite in a temporary folder, or, when AZA_CDS_TEST_POSTGRES_URL is set, a fresh PostgreSQL schema.

    Every app a test builds shares it, as workers and replicas share one database."""
    if not POSTGRES:
        yield ""
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def make_app(tmp_path, database_url):
    """Build an app with `AZA_CDS_*` overrides and its own database (SQLite file or PostgreSQL schema)."""

    def build(**overrides):
        settings = {"AZA_CDS_DATA_DIR": str(tmp_path / "data"), "AZA_CDS_AUTH": "off"}
        if database_url:
            settings["AZA_CDS_DATABASE_URL"] = database_url
        settings.update({f"AZA_CDS_{name.upper()}": value for name, value in overrides.items()})
        return create_app(settings)

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


class StubFhirServer:
    """A FHIR server on 127.0.0.1 whose answers a test sets per path; it records what it was asked."""

    def __init__(self):
        self.routes: dict[str, tuple[int, object, dict, float]] = {}
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server naming)
                stub.requests.append({"path": self.path, "headers": dict(self.headers)})
                status, body, headers, delay = stub.routes.get(
                    self.path, (404, {"resourceType": "OperationOutcome"}, {}, 0)
                )
                if delay:
                    time.sleep(delay)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/fhir"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def answer(self, path: str, body: object, status: int = 200, headers: dict | None = None, delay: float = 0):
        self.routes["/fhir/" + path] = (status, body, headers or {}, delay)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fhir_server():
    server = StubFhirServer()
    yield server
    server.close()


SECRET_IN_LOGS = re.compile(r"eyJ[\w-]{8,}\.eyJ|Bearer\s+\S|opaque-token-123|SECRET-TOKEN|access_token")
PATIENT_IDS_IN_TESTS = ("patient-identifier-42", "smart-1288992", "pt-1001", "pt-1005")


@pytest.fixture(autouse=True)
def no_secrets_or_patient_ids_in_logs(caplog):
    """For every test: nothing logged may hold a JWT, a bearer header, an access token or a patient id."""
    caplog.set_level(logging.INFO, logger="aza_cds")
    yield
    for record in caplog.get_records("setup") + caplog.get_records("call"):
        text = record.getMessage()
        assert not SECRET_IN_LOGS.search(text), f"secret in log: {text[:120]}"
        assert not any(pid in text for pid in PATIENT_IDS_IN_TESTS), f"patient id in log: {text[:120]}"
