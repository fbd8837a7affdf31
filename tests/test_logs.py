"""JSON log lines carry the hookInstance of the call that wrote them, and no patient id."""

from __future__ import annotations

import io
import json
import logging

from helpers import FIXTURES, post_json

from service.logs import Correlation, JsonFormatter
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
