"""POST /cds-services/{id}: validate the request, run the hook pipeline, answer cards or 412."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Blueprint, g

from service.fhir import DataUnavailable
from service.hooks import SERVICES
from service.http.errors import ApiError, json_response, read_json_object
from service.http.memory import collection_paused
from service.http.state import state
from service.observability.logs import hook_instance
from service.protocol import HookCall, InvalidCall, SchemaViolation, check_request

bp = Blueprint("hooks", __name__)
log = logging.getLogger("aza_cds")


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str):
    with collection_paused():  # a large prefetch is hundreds of thousands of objects: see http/memory.py
        return _call_service(service_id)


def _call_service(service_id: str):
    started = time.perf_counter()
    service = SERVICES.get(service_id)
    if service is None:
        raise ApiError(404, "unknown_service", f"No CDS service with id {service_id!r}; see /cds-services.")
    body = read_json_object()
    try:
        if isinstance(body.get("hook"), str) and body["hook"] != service.hook:
            raise InvalidCall(f"this service handles {service.hook!r}, not {body['hook']!r}", "$.hook")
        check_request(service.hook, body)
        call = HookCall.from_request(service.id, service.hook, body)
    except (SchemaViolation, InvalidCall) as error:
        raise ApiError(400, "invalid_request", str(error), path=error.path) from None
    app = state()
    entries = call.resource_count()
    if entries > app.settings.max_prefetch_entries:
        raise ApiError(
            413,
            "too_many_resources",
            f"The request carries {entries} resources; this service accepts at most "
            f"{app.settings.max_prefetch_entries} (AZA_CDS_MAX_PREFETCH_ENTRIES).",
        )
    drafts = len(call.draft_entries)
    if drafts > app.settings.max_draft_orders:  # rules compare drafts in pairs: their work grows with the square
        raise ApiError(
            413,
            "too_many_draft_orders",
            f"The request carries {drafts} draft orders; this service checks at most "
            f"{app.settings.max_draft_orders} at once (AZA_CDS_MAX_DRAFT_ORDERS).",
        )
    correlation = hook_instance.set(call.hook_instance)  # every log line of this call carries it
    try:
        return _run(call, app, started)
    finally:
        hook_instance.reset(correlation)


def _run(call: HookCall, app, started: float):
    try:
        cards = app.pipeline.run(call)
    except DataUnavailable as missing:
        _account(call, app, started, status=412, cards=[])
        client = app.pipeline.fhir_client
        if call.fhir_server and (client is None or not client.is_allowed(call.fhir_server)):
            # The CDS Hooks sandbox shows a 412 as "All clear": say here, where the developer looks, what to set.
            log.warning("412: '%s' was not in the prefetch and the service may not fetch it from fhirServer %r: "
                        "add that URL to AZA_CDS_FHIR_ALLOWLIST to allow call-backs to it",
                        missing.key, _without_query(call.fhir_server))  # fmt: skip
        raise ApiError(
            412,
            "precondition_failed",
            f"Required data '{missing.key}' could not be obtained: {missing.reason}.",
            missing=[
                {"key": missing.key, "template": app.pipeline.prefetch[missing.key].template, "reason": missing.reason}
            ],
        ) from None
    _account(call, app, started, status=200, cards=cards)
    return json_response({"cards": cards})


def _account(call: HookCall, app, started: float, status: int, cards: list[dict]) -> None:
    """One log line and one audit row per call; neither holds patient data beyond a keyed hash."""
    latency = (time.perf_counter() - started) * 1000
    app.metrics.hook_call(call.hook, status, latency / 1000, cards)
    patient = app.patient_hash(call.patient_id)
    token = g.get("token")  # set when authentication is required
    log.info("hook service=%s hookInstance=%s patient=%s status=%d cards=%d ms=%.1f iss=%s jti=%s",
             call.service_id, call.hook_instance, patient, status, len(cards), latency,
             token.iss if token else "-", token.jti if token else "-")  # fmt: skip
    row = {
        "at": datetime.now(UTC), "hook_instance": call.hook_instance[:128], "service_id": call.service_id,
        "patient_hash": patient, "status": status, "latency_ms": latency, "pack_version": app.pipeline.pack.version,
    }  # fmt: skip
    app.storage.audit.record(row, cards)  # queued: a database failure never holds back the advice (the store logs it)


def _without_query(url: str) -> str:
    """The server's URL as far as the allow-list compares it (no query, fragment or credentials), bounded in size."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"[:200]
