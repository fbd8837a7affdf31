"""Shared fixtures: the app and its test client, its database, and FHIR servers to call back.

What costs time is made once per session and reused: the knowledge pack (read-only) and a migrated SQLite database
that each test copies. Apps store in memory unless the test is about storage; FHIR call-backs go through an
`httpx.MockTransport` unless the test is about sockets."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from helpers import SOCKETS, shipped_pack
from sqlalchemy import create_engine, text

from service import create_app
from service.store import Storage, open_database

POSTGRES = os.environ.get("AZA_CDS_TEST_POSTGRES_URL", "")
SQLITE_FILE = "aza-cds.sqlite3"  # the file name the settings give the database under AZA_CDS_DATA_DIR


@pytest.fixture(scope="session")
def knowledge_pack():
    return shipped_pack()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """A SQLite database with every migration applied, made once; tests start from a copy of it."""
    path = tmp_path_factory.mktemp("template") / SQLITE_FILE
    open_database(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def database_url(tmp_path, migrated_sqlite):
    """SQLite in a temporary folder, or, when AZA_CDS_TEST_POSTGRES_URL is set, a fresh PostgreSQL schema.

    Every app a test builds shares it, as workers and replicas share one database."""
    if not POSTGRES:
        (tmp_path / "data").mkdir(exist_ok=True)
        shutil.copyfile(migrated_sqlite, tmp_path / "data" / SQLITE_FILE)
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
def make_app(tmp_path, database_url, knowledge_pack, fhir_server):
    """Build an app with `AZA_CDS_*` overrides and its own database (SQLite file or PostgreSQL schema).

    `storage` replaces the database (e.g. `Storage.in_memory()`); FHIR call-backs reach `fhir_server` unless
    `fhir_transport` says otherwise."""

    def build(storage: Storage | None = None, fhir_transport=None, **overrides):
        settings = {"AZA_CDS_DATA_DIR": str(tmp_path / "data"), "AZA_CDS_AUTH": "off"}
        if database_url:
            settings["AZA_CDS_DATABASE_URL"] = database_url
        settings.update({f"AZA_CDS_{name.upper()}": value for name, value in overrides.items()})
        transport = None if fhir_transport is SOCKETS else fhir_transport or fhir_server.transport
        return create_app(settings, pack=knowledge_pack, storage=storage, fhir_transport=transport)

    return build


@pytest.fixture
def app(make_app):
    """An app that stores in memory; test modules about storage override this with `make_app()`."""
    return make_app(storage=Storage.in_memory())


@pytest.fixture
def client(app):
    return app.test_client()


class FakeFhirServer:
    """A FHIR server behind an `httpx.MockTransport`: answers set per path, every request recorded. No sockets."""

    base_url = "http://127.0.0.1:9/fhir"  # loopback: reachable in developer mode, as the socket server is

    def __init__(self):
        self.routes: dict[str, tuple[int, object, dict]] = {}
        self.requests: list[dict] = []
        self.transport = httpx.MockTransport(self._handle)

    def answer(self, path: str, body: object, status: int = 200, headers: dict | None = None):
        self.routes["/fhir/" + path] = (status, body, headers or {})

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        self.requests.append({"path": path, "headers": request.headers})
        status, body, headers = self.routes.get(path, (404, {"resourceType": "OperationOutcome"}, {}))
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=payload, headers={"Content-Type": "application/fhir+json", **headers})


class SocketFhirServer:
    """A FHIR server on 127.0.0.1 whose answers a test sets per path; it records what it was asked.

    For tests about sockets (a server too slow for the time budget); the others use FakeFhirServer."""

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
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def answer(self, path: str, body: object, status: int = 200, headers: dict | None = None, delay: float = 0):
        self.routes["/fhir/" + path] = (status, body, headers or {}, delay)

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fhir_server():
    return FakeFhirServer()


@pytest.fixture
def socket_fhir_server():
    server = SocketFhirServer()
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
