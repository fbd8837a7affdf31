"""A CDS Hooks client written from the spec, not from our code: it reads discovery, fills each prefetch template
from its own small FHIR store, calls every service, and checks every answer strictly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest
from helpers import AZATHIOPRINE, FEBUXOSTAT, METFORMIN, assert_valid_response, card_keys, cbc, med_request, post_json


def days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


STORE = [
    {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-01"},
    med_request("aza", AZATHIOPRINE, authored=days_ago(400)[:10]),
    med_request("feb", FEBUXOSTAT, status="stopped"),
    *[dict(o, category=[{"coding": [{"code": "laboratory"}]}]) for o in cbc(days_ago(10))],
]


def search(query: str) -> dict | None:
    """Answer a read or a search from the store, the way a FHIR server would for these simple queries."""
    kind, _, rest = query.partition("?")
    if "/" in kind:
        resource_type, resource_id = kind.split("/")
        return next((r for r in STORE if r["resourceType"] == resource_type and r["id"] == resource_id), None)
    params = dict(parse_qsl(rest))
    found = [r for r in STORE if r["resourceType"] == kind]
    if "category" in params:
        found = [
            r
            for r in found
            if any(c.get("code") == params["category"] for cat in r.get("category", []) for c in cat["coding"])
        ]
    if "code" in params:  # token search: "system|code" or "code", a comma between alternatives
        wanted = [part.rpartition("|")[::2] for part in params["code"].split(",")]
        found = [
            r
            for r in found
            if any(
                c["code"] == code and system in ("", c.get("system"))
                for c in r["code"]["coding"]
                for system, code in wanted
            )
        ]
    if "status" in params:
        found = [r for r in found if r.get("status") in params["status"].split(",")]
    unknown = set(params) - {"patient", "category", "code", "status", "clinical-status", "_sort", "_count"}
    assert not unknown, f"{query}: a search parameter this client does not know"
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "entry": [{"resource": r} for r in found],
    }


def build_prefetch(templates: dict, context: dict) -> dict:
    prefetch = {}
    for key, template in templates.items():
        query = re.sub(r"\{\{context\.(\w+)\}\}", lambda m: context[m.group(1)], template)
        assert "{{" not in query
        prefetch[key] = search(query)
    return prefetch


@pytest.mark.parametrize(
    "draft", [None, AZATHIOPRINE, FEBUXOSTAT, METFORMIN], ids=["none", "aza", "febuxostat", "metformin"]
)
def test_every_service_with_prefetch_built_from_its_own_templates(client, draft):
    services = client.get("/cds-services").get_json()["services"]
    outcomes = {}
    for service in services:
        context = {"userId": "Practitioner/doc-1", "patientId": "p1"}
        if service["hook"] != "patient-view":
            if draft is None:
                continue
            context["draftOrders"] = {
                "resourceType": "Bundle",
                "entry": [{"resource": med_request("d1", draft, status="draft")}],
            }
            if service["hook"] == "order-select":
                context["selections"] = ["MedicationRequest/d1"]
        body = {
            "hook": service["hook"],
            "hookInstance": "6c1e9f40-1d3b-4bd5-9a5c-5c8f0d2a7e11",
            "context": context,
            "prefetch": build_prefetch(service["prefetch"], context),
        }
        response = post_json(client, f"/cds-services/{service['id']}", body)
        assert response.status_code == 200, response.get_json()
        assert_valid_response(response.get_json())
        outcomes[service["hook"]] = card_keys(response.get_json())
    # Patient on azathioprine for 400 days with a CBC and ALT 10 days ago; febuxostat was stopped.
    assert outcomes["patient-view"] == []
    if draft is FEBUXOSTAT:
        assert outcomes["order-select"] == outcomes["order-sign"] == [("DDI-01", "critical")]
    elif draft is AZATHIOPRINE:
        # the draft carries no dosage, so the mg/kg check cannot run: said at order-select, not repeated at sign
        assert outcomes["order-select"] == [("DATA-03", "info")] and outcomes["order-sign"] == []
    elif draft is not None:
        assert outcomes["order-select"] == outcomes["order-sign"] == []
