"""GET /cds-services."""

from __future__ import annotations

import re

from helpers import assert_no_empty_values

from service.protocol import validator

# CDS Hooks 2.0 prefetch tokens: root-level context fields marked "Prefetch Token: Yes", or the user tokens.
VALID_TOKENS = {
    "context.patientId",
    "context.userId",
    "context.encounterId",
    "userPractitionerId",
    "userPractitionerRoleId",
    "userPatientId",
    "userRelatedPersonId",
}


def test_discovery_lists_one_service_per_hook(client):
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body = response.get_json()
    assert not list(validator("discovery").iter_errors(body))
    assert_no_empty_values(body)
    assert sorted(service["hook"] for service in body["services"]) == ["order-select", "order-sign", "patient-view"]


def test_prefetch_templates_use_only_2_0_tokens_and_the_restricted_query_subset(client):
    for service in client.get("/cds-services").get_json()["services"]:
        for template in service["prefetch"].values():
            tokens = set(re.findall(r"\{\{\s*([^}]+?)\s*\}\}", template))
            assert tokens and tokens <= VALID_TOKENS, template
            assert "draftOrders" not in template and "today()" not in template
            # instance read, or type search by patient; parameter names carry no modifier (e.g. code:text); of the
            # result parameters only _sort and _count (the subset CDS Hooks 2.0 recommends)
            assert re.fullmatch(
                r"[A-Za-z]+(/\{\{[^}]+\}\}|\?patient=\{\{context\.patientId\}\}(&(_sort|_count|[a-z-]+)=[^&]+)*)",
                template,
            ), template


def test_every_discovered_service_answers_at_its_id(client):
    for service in client.get("/cds-services").get_json()["services"]:
        response = client.post(f"/cds-services/{service['id']}", data="{}", content_type="application/json")
        assert response.status_code == 400  # reachable, and the empty request is refused with a reason
