"""HookCall: what the JSON Schema cannot check of a CDS Hooks request (spec: selections name draft orders; the
fhirServer is a base URL the allow-list can compare), and how the pipeline reads the draft orders."""

from __future__ import annotations

import pytest

from service.protocol import HookCall, InvalidCall
from service.protocol.call import check_base_url

DRAFT = {"resourceType": "MedicationRequest", "id": "d1", "status": "draft"}


def body(**context) -> dict:
    context = {"userId": "Practitioner/1", "patientId": "p1", **context}
    return {"hook": "order-select", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": context}


def drafts(*resources) -> dict:
    return {"resourceType": "Bundle", "entry": [{"resource": resource} for resource in resources]}


def test_a_body_for_another_hook_is_refused_at_its_hook():
    with pytest.raises(InvalidCall) as refused:
        HookCall.from_request("azathioprine-order-sign", "order-sign", body())
    assert refused.value.path == "$.hook"


def test_a_selection_must_name_a_draft_order():
    call = HookCall.from_request(
        "s", "order-select", body(draftOrders=drafts(DRAFT), selections=["MedicationRequest/d1"])
    )
    assert call.selections == {"MedicationRequest/d1"} and call.patient_id == "p1"
    with pytest.raises(InvalidCall) as refused:
        HookCall.from_request("s", "order-select", body(draftOrders=drafts(DRAFT), selections=["MedicationRequest/x"]))
    assert refused.value.path == "$.context.selections[0]"


def test_a_draft_is_found_by_position_and_only_when_its_reference_matches():
    """Two drafts may share an id: an update suggestion starts from the one at the flagged position."""
    twin = DRAFT | {"status": "active"}
    call = HookCall.from_request("s", "order-select", body(draftOrders=drafts(DRAFT, twin)))
    assert call.draft_at(1, "MedicationRequest/d1") is twin
    assert call.draft_at(0, "MedicationRequest/other") is None
    assert call.draft_at(5, "MedicationRequest/d1") is None
    assert call.resource_count() == 2


@pytest.mark.parametrize(
    "url",
    [
        "ftp://ehr.example/fhir",
        "https:///fhir",
        "https://user:secret@ehr.example/fhir",
        "https://ehr.example/fhir?_format=json",
        "https://ehr.example/fhir#top",
        "https://ehr.example/fhir/../admin",
        "https://ehr.example/fhir/%2e%2e/admin",
        "https://ehr.example:0/fhir",
        "https://ehr.example:99999/fhir",
        "https://ehr.example\\@evil.example/fhir",
    ],
)
def test_a_fhir_server_that_is_not_a_plain_base_url_is_refused(url):
    with pytest.raises(InvalidCall) as refused:
        check_base_url(url, "$.fhirServer")
    assert refused.value.path == "$.fhirServer"


def test_a_plain_base_url_is_accepted():
    check_base_url("https://ehr.example:8443/fhir/r4", "$.fhirServer")
    call = HookCall.from_request("s", "order-select", body() | {"fhirServer": "http://127.0.0.1:9090/fhir"})
    assert call.fhir_server == "http://127.0.0.1:9090/fhir"
