"""JSON log lines carry the hookInstance of the call that wrote them, and no patient id."""

from __future__ import annotations

import io
import json
import logging

from helpers import FIXTURES, post_json

from service.observability.logs import Correlation, JsonFormatter
from service.replay import load_fixture


def test_json_lines_with_hook_instance(app):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(Correlation())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("aza_cds")
    logger.addHandler(handler)
    try:
        fixture = load_fixture(FIXTURES / "patient-view-cbc-overdue-monthly-phase.json")
        post_json(app.test_client(), "/cds-services/azathioprine-patient-view", fixture["request"])
        app.test_client().get("/cds-services")  # outside a hook call: no correlation id
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    hook_line = next(line for line in lines if line["message"].startswith("hook "))
    assert hook_line["hookInstance"] == fixture["request"]["hookInstance"]
    assert {"time", "level", "logger", "message"} <= hook_line.keys()
    assert fixture["request"]["context"]["patientId"] not in stream.getvalue()


def test_serve_writes_only_json_lines_gunicorn_s_included(tmp_path):
    import json
    import os
    import subprocess
    import sys
    import time

    import httpx
    from helpers import free_port

    port = free_port()
    environment = {**os.environ, "AZA_CDS_DATA_DIR": str(tmp_path), "AZA_CDS_AUTH": "off"}
    environment.pop("AZA_CDS_LOG_FORMAT", None)
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
    finally:
        server.terminate()
        errors = server.communicate(timeout=15)[1]
    lines = [json.loads(line) for line in errors.splitlines() if line.strip()]  # fails on any plain-text line
    assert any(line["logger"] == "gunicorn.error" and "Listening at" in line["message"] for line in lines)


def test_an_unknown_log_format_is_a_configuration_error(monkeypatch, capsys):
    from service.cli import main

    monkeypatch.setenv("AZA_CDS_LOG_FORMAT", "xml")
    assert main(["knowledge", "check"]) == 2
    assert "AZA_CDS_LOG_FORMAT must be 'json' or 'text'" in capsys.readouterr().err
