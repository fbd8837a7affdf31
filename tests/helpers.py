"""Helpers for tests: posting, strict response checks, and small builders of FHIR resources and requests."""

from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class

from service.knowledge import KnowledgePack, load_pack
from service.knowledge.model import LEFTOVER
from service.protocol import validator
from service.protocol.validation import _fast as fast_validator

SOCKETS = object()  # make_app(fhir_transport=SOCKETS): call back over real sockets (httpx's own transport)
REPO = Path(__file__).resolve().parent.parent
PACK_DIR = REPO / "cards"
FIXTURES = REPO / "fixtures" / "requests"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"


@functools.cache
def shipped_pack() -> KnowledgePack:
    """The knowledge pack of this checkout, read and validated once per test session (it is read-only)."""
    return load_pack(PACK_DIR)


def post_json(client, path: str, body: object):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def assert_no_empty_values(value, path="$"):
    """CDS Hooks JSON: no null, "", [] or {} anywhere, except the top-level `cards: []`."""
    assert value is not None, f"{path} is null"
    if isinstance(value, str | list | dict):
        assert len(value) > 0 or path == "$.cards", f"{path} is empty"
    if isinstance(value, dict):
        for key, item in value.items():
            assert_no_empty_values(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_no_empty_values(item, f"{path}[{index}]")


def assert_valid_response(body: dict) -> None:
    """Strict CDS Hooks 2.0 checks on a service response, including FHIR validity of suggested resources."""
    if not fast_validator("response").is_valid(body):  # the same schema compiled by jsonschema-rs: 50x faster
        errors = sorted(validator("response").iter_errors(body), key=lambda error: list(error.absolute_path))
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
        raise AssertionError("jsonschema-rs refused a response that python-jsonschema accepts")
    assert_no_empty_values(body)
    for card in body["cards"]:
        assert len(card["summary"]) < 140
        assert not LEFTOVER.search(card["summary"]) and not LEFTOVER.search(card["detail"]), card["summary"]
        for suggestion in card.get("suggestions", []):
            for action in suggestion.get("actions", []):
                if "resource" in action:
                    resource = action["resource"]
                    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def card_keys(body: dict) -> list[tuple[str, str]]:
    return sorted((card["source"]["topic"]["code"], card["indicator"]) for card in body["cards"])


def rx(code: str, display: str) -> dict:
    return {"coding": [{"system": RXNORM, "code": code, "display": display}]}


AZATHIOPRINE = rx("197388", "azathioprine 50 MG Oral Tablet")
FEBUXOSTAT = rx("834235", "febuxostat 40 MG Oral Tablet")
ALLOPURINOL = rx("519", "allopurinol")
LISINOPRIL = rx("314076", "lisinopril 10 MG Oral Tablet")
METFORMIN = rx("861007", "metformin hydrochloride 500 MG Oral Tablet")


def med_request(rid: str, medication: dict, status: str = "active", authored: str = "2026-01-01", **extra) -> dict:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": authored,
        "medicationCodeableConcept": medication,
        **extra,
    }


def observation(oid: str, code: str, value: float, unit: str, when: str, status: str = "final") -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def cbc(when: str, tag: str = "1") -> list[dict]:
    """A normal CBC with an ALT drawn with it, as a well-monitored patient has."""
    return [
        observation(f"wbc-{tag}", "6690-2", 6.0, "10*3/uL", when),
        observation(f"plt-{tag}", "777-3", 240, "10*3/uL", when),
        observation(f"alt-{tag}", "1742-6", 22, "U/L", when),
    ]


def bundle(resources: list[dict], next_url: str | None = None) -> dict:
    document = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
    if next_url:
        document["link"] = [{"relation": "next", "url": next_url}]
    return document


def hook_request(
    hook: str,
    prefetch: dict | None = None,
    drafts: list[dict] | None = None,
    selections: list[str] | None = None,
    **top,
) -> dict:
    context = {"userId": "Practitioner/doc-1", "patientId": "p1"}
    if drafts is not None:
        context["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": r} for r in drafts]}
    if selections is not None:
        context["selections"] = selections
    body = {"hook": hook, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": context, **top}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


@contextlib.contextmanager
def running_serve(tmp_path, workers: int = 2, **env):
    """`aza-cds serve` in a subprocess on a free port (auth off unless given), yielding its base URL and process."""
    with running_serves([tmp_path], workers, **env) as [(base, server)]:
        yield base, server


@contextlib.contextmanager
def running_serves(data_dirs: list, workers: int = 2, **env):
    """One `aza-cds serve` per data folder, started together (start-up is mostly imports: they overlap)."""
    import os
    import subprocess
    import sys

    servers = []
    try:
        for data_dir in data_dirs:
            environment = {**os.environ, "AZA_CDS_DATA_DIR": str(data_dir), "AZA_CDS_AUTH": "off", **env}
            environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
            port = free_port()
            command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", str(workers)]
            process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers.append((f"http://127.0.0.1:{port}", process))
        for base, process in servers:
            _wait_until_up(base, process)
        yield servers
    finally:
        for _base, process in servers:
            process.terminate()
        for _base, process in servers:
            process.wait(timeout=15)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(base: str, process) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(base + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            assert process.poll() is None, "aza-cds serve exited"
            assert time.monotonic() < deadline, "aza-cds serve did not start"
            time.sleep(0.05)
