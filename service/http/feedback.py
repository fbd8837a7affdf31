"""POST /cds-services/{id}/feedback: validated, stored idempotently."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, g

from service.hooks import SERVICES
from service.http.errors import ApiError, json_response, read_json_object
from service.http.state import state
from service.protocol import SchemaViolation, check

bp = Blueprint("feedback", __name__)
log = logging.getLogger("aza_cds")


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str):
    if service_id not in SERVICES:
        raise ApiError(404, "unknown_service", f"No CDS service with id {service_id!r}; see /cds-services.")
    body = read_json_object()
    try:
        check("feedback", body)
    except SchemaViolation as error:
        raise ApiError(400, "invalid_request", str(error), path=error.path) from None
    for index, item in enumerate(body["feedback"]):
        try:  # stored in UTC: a time the conversion cannot represent (year 1 or 9999 offsets) is refused here
            datetime.fromisoformat(item["outcomeTimestamp"]).astimezone(UTC)
        except (ValueError, OverflowError):
            raise ApiError(
                400,
                "invalid_request",
                "outcomeTimestamp is not a real date and time that UTC can represent",
                path=f"$.feedback[{index}].outcomeTimestamp",
            ) from None
    stored, duplicates = state().storage.feedback.save(service_id, body["feedback"])
    token = g.get("token")
    log.info("feedback service=%s items=%d stored=%d duplicates=%d iss=%s jti=%s", service_id, len(body["feedback"]),
             stored, duplicates, token.iss if token else "-", token.jti if token else "-")  # fmt: skip
    return json_response({"stored": stored, "duplicates": duplicates})
