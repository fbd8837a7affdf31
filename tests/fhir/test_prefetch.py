"""The four prefetch states, call-backs to the FHIR server, and 412, against a fake FHIR server (a socket one where
the test is about sockets)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from helpers import (
    AZATHIOPRINE,
    FEBUXOSTAT,
    SOCKETS,
    assert_valid_response,
    bundle,
    card_keys,
    cbc,
    hook_request,
    med_request,
    post_json,
    shipped_pack,
)

from service.fhir import FetchError, FhirClient, render_template
from service.hooks.templates import prefetch_keys
from service.http.state import state_of

PATIENT_VIEW = "/cds-services/azathioprine-patient-view"
ORDER_SELECT = "/cds-services/azathioprine-order-select"
TOKEN = {
    "access_token": "opaque-token-123",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "patient/*.read",
    "subject": "aza-cds",
}


def as_sent(key: str) -> str:
    """The key's search for patient p1 as the client sends it (percent-encoded, as the stub servers see it)."""
    query = render_template(prefetch_keys(shipped_pack())[key].template, {"patientId": "p1"})
    return httpx.URL("http://stub/" + query).raw_path.decode().removeprefix("/")


MEDS_QUERY = as_sent("medicationRequests")
LABS_QUERY = as_sent("labs")


def recent(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def data_notice(response) -> dict:
    return next(card for card in response.get_json()["cards"] if card["source"]["topic"]["code"] == "DATA-02")


def on_azathioprine():
    return bundle([med_request("aza", AZATHIOPRINE, authored=recent(300)[:10])])


@pytest.fixture
def allowed(make_app, fhir_server):
    """A client whose service may call the stub FHIR server back."""
    return make_app(fhir_allowlist=fhir_server.base_url, dev="on").test_client()  # dev: http to loopback


def test_present_prefetch_is_used_without_calling_back(allowed, fhir_server):
    body = hook_request(
        "patient-view",
        {"medicationRequests": on_azathioprine(), "labs": bundle(cbc(recent(5)))},
        fhirServer=fhir_server.base_url,
    )
    response = post_json(allowed, PATIENT_VIEW, body)
    assert response.status_code == 200 and response.get_json()["cards"] == []
    fetched = {r["path"] for r in fhir_server.requests}
    assert not fetched & {"/fhir/" + MEDS_QUERY, "/fhir/" + LABS_QUERY}


def test_absent_keys_are_fetched_with_the_bearer_token(allowed, fhir_server):
    fhir_server.answer(MEDS_QUERY, on_azathioprine())
    fhir_server.answer(LABS_QUERY, bundle(cbc(recent(50))))
    body = hook_request("patient-view", {}, fhirServer=fhir_server.base_url, fhirAuthorization=TOKEN)
    response = post_json(allowed, PATIENT_VIEW, body)
    assert response.status_code == 200
    assert card_keys(response.get_json()) == [("MON-01", "warning")]  # 50 days > 30 + 7
    assert_valid_response(response.get_json())
    calls = {r["path"]: r["headers"] for r in fhir_server.requests}
    assert calls["/fhir/" + MEDS_QUERY]["Authorization"] == "Bearer opaque-token-123"
    assert calls["/fhir/" + LABS_QUERY]["Authorization"] == "Bearer opaque-token-123"
    assert "fhir+json" in calls["/fhir/" + MEDS_QUERY]["Accept"]


def test_open_fhir_server_is_called_without_authorization(allowed, fhir_server):
    fhir_server.answer(MEDS_QUERY, bundle([]))
    response = post_json(allowed, PATIENT_VIEW, hook_request("patient-view", {}, fhirServer=fhir_server.base_url))
    assert response.status_code == 200
    assert "Authorization" not in fhir_server.requests[0]["headers"]


def test_labs_are_not_fetched_when_azathioprine_is_not_involved(allowed, fhir_server):
    fhir_server.answer(MEDS_QUERY, bundle([]))
    response = post_json(allowed, PATIENT_VIEW, hook_request("patient-view", {}, fhirServer=fhir_server.base_url))
    assert response.status_code == 200 and response.get_json()["cards"] == []
    assert "/fhir/" + LABS_QUERY not in {r["path"] for r in fhir_server.requests}


def test_null_means_no_data_and_is_not_refetched(allowed, fhir_server):
    body = hook_request(
        "patient-view", {"medicationRequests": on_azathioprine(), "labs": None}, fhirServer=fhir_server.base_url
    )
    response = post_json(allowed, PATIENT_VIEW, body)
    assert card_keys(response.get_json()) == [("MON-01", "warning"), ("MON-02", "info")]  # no CBC, no liver tests
    assert "No CBC in the last 365 days" in response.get_json()["cards"][0]["summary"]
    assert "/fhir/" + LABS_QUERY not in {r["path"] for r in fhir_server.requests}


def test_operation_outcome_is_refetched(allowed, fhir_server):
    fhir_server.answer(LABS_QUERY, bundle(cbc(recent(3))))
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    body = hook_request(
        "patient-view", {"medicationRequests": on_azathioprine(), "labs": outcome}, fhirServer=fhir_server.base_url
    )
    response = post_json(allowed, PATIENT_VIEW, body)
    assert response.status_code == 200 and response.get_json()["cards"] == []
    assert "/fhir/" + LABS_QUERY in {r["path"] for r in fhir_server.requests}


def azathioprine_selected_with_paged_meds(next_url: str, server, **top) -> dict:
    """order-select of azathioprine; the prefetched medication Bundle's first page is empty and links `next_url`."""
    prefetch = {"medicationRequests": bundle([], next_url=next_url), "labs": bundle(cbc(recent(1)))}
    drafts = [med_request("d1", AZATHIOPRINE, status="draft")]
    return hook_request(
        "order-select", prefetch, drafts=drafts, selections=["MedicationRequest/d1"], fhirServer=server.base_url, **top
    )


def test_paginated_prefetch_follows_next_pages(allowed, fhir_server):
    """The febuxostat order is only on page 2 of the prefetched Bundle."""
    fhir_server.answer("page2", bundle([med_request("feb", FEBUXOSTAT)]))
    body = azathioprine_selected_with_paged_meds(fhir_server.base_url + "/page2", fhir_server, fhirAuthorization=TOKEN)
    response = post_json(allowed, ORDER_SELECT, body)
    assert ("DDI-01", "critical") in card_keys(response.get_json())
    assert fhir_server.requests[0]["headers"]["Authorization"] == "Bearer opaque-token-123"


def test_next_page_that_cannot_be_fetched_is_reported(client, fhir_server):
    """Not allow-listed: page 2 stays unread, and an info card says the medication list is incomplete."""
    body = azathioprine_selected_with_paged_meds(fhir_server.base_url + "/page2", fhir_server)
    response = post_json(client, ORDER_SELECT, body)
    assert ("DATA-02", "info") in card_keys(response.get_json())
    assert "medicationRequests" in data_notice(response)["detail"]
    assert fhir_server.requests == []


def test_next_link_to_another_server_is_not_followed(make_app, fhir_server, monkeypatch):
    app = make_app(fhir_allowlist=fhir_server.base_url, dev="on")
    client_side = state_of(app).pipeline.fhir_client
    requested: list[str] = []
    real_get = client_side.get_json
    monkeypatch.setattr(client_side, "get_json", lambda url, *a: requested.append(url) or real_get(url, *a))
    body = azathioprine_selected_with_paged_meds(
        "https://elsewhere.example.com/fhir/page2", fhir_server, fhirAuthorization=TOKEN
    )
    response = post_json(app.test_client(), ORDER_SELECT, body)
    assert ("DATA-02", "info") in card_keys(response.get_json())
    assert "outside the fhirServer" in data_notice(response)["detail"]
    assert requested and all(url.startswith(fhir_server.base_url + "/") for url in requested)


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        (lambda server, make_app: make_app().test_client(), "not in AZA_CDS_FHIR_ALLOWLIST"),
        (
            lambda server, make_app: make_app(fhir_allowlist=server.base_url + "/other", dev="on").test_client(),
            "not in AZA_CDS_FHIR_ALLOWLIST",
        ),
    ],
    ids=["empty-allowlist", "path-outside-allowlist"],
)
def test_absent_required_data_from_a_server_not_allowed_is_412(fhir_server, make_app, setup, fragment, caplog):
    client = setup(fhir_server, make_app)
    body = hook_request("patient-view", {}, fhirServer=fhir_server.base_url, fhirAuthorization=TOKEN)
    response = post_json(client, PATIENT_VIEW, body)
    assert response.status_code == 412
    error = response.get_json()
    assert error["error"] == "precondition_failed" and fragment in error["message"]
    assert error["missing"][0]["key"] == "medicationRequests"
    assert fhir_server.requests == []  # the token never left for a server we may not call
    # the sandbox renders a 412 as "All clear": the server log says what to set, for which server
    (hint,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.getMessage().startswith("412")]
    assert "AZA_CDS_FHIR_ALLOWLIST" in hint and f"{fhir_server.base_url!r}" in hint and "medicationRequests" in hint


@pytest.mark.parametrize(
    "server",
    [
        "https://ehr.example:99999/fhir", "https://ehr.example:abc/fhir", "https://ehr.example:-1/fhir",
        "https://[::1/fhir", "https://ehr.example/fhir?x=", "https://ehr.example/fhir#frag",
        "https://ehr.example/fhir/..", "https://user:pw@ehr.example/fhir", "https://ehr.example:0/fhir",
        "https://ehr\\example/fhir",
    ],
)  # fmt: skip
def test_a_fhir_server_that_is_not_a_plain_base_url_is_400_with_its_path(client, fhir_server, server):
    """Issue 13 (6): these were 500 (bad ports) or 200 with cards from no data (query, fragment, dot segments)."""
    body = hook_request("patient-view", {}, fhirServer=server, fhirAuthorization=TOKEN)
    response = post_json(client, PATIENT_VIEW, body)
    assert response.status_code == 400 and response.get_json()["path"] == "$.fhirServer"
    assert fhir_server.requests == []


def test_developer_mode_without_an_allow_list_says_how_to_avoid_412(make_app, caplog):
    make_app(dev="on")
    hints = [r.getMessage() for r in caplog.records if "AZA_CDS_FHIR_ALLOWLIST=<" in r.getMessage()]
    assert len(hints) == 1 and "All clear" in hints[0]
    caplog.clear()
    make_app(dev="on", fhir_allowlist="http://127.0.0.1:9/fhir")
    assert not [r for r in caplog.records if "AZA_CDS_FHIR_ALLOWLIST=<" in r.getMessage()]


def test_absent_required_data_without_fhir_server_is_412(client):
    response = post_json(client, PATIENT_VIEW, hook_request("patient-view", {}))
    assert response.status_code == 412
    assert "no fhirServer" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ({"status": 500, "body": {"resourceType": "OperationOutcome"}}, "HTTP 500"),
        ({"status": 302, "body": {}, "headers": {"Location": "https://elsewhere.example.com/fhir"}}, "HTTP 302"),
        ({"status": 200, "body": b"<html>not json</html>"}, "not JSON"),
        ({"status": 200, "body": {"resourceType": "OperationOutcome", "issue": []}}, "OperationOutcome"),
    ],
    ids=["server-error", "redirect-not-followed", "not-json", "operation-outcome"],
)
def test_failed_call_backs_for_required_data_are_412(allowed, fhir_server, answer, fragment):
    fhir_server.answer(MEDS_QUERY, answer["body"], status=answer["status"], headers=answer.get("headers"))
    response = post_json(allowed, PATIENT_VIEW, hook_request("patient-view", {}, fhirServer=fhir_server.base_url))
    assert response.status_code == 412
    assert fragment in response.get_json()["message"]
    # an OperationOutcome refuses the search itself: the broader one (no status filter) is tried too, and fails
    refused = fragment == "OperationOutcome"
    assert [r["path"].split("?")[1] for r in fhir_server.requests] == [MEDS_QUERY.split("?")[1]] + [
        "patient=p1"
    ] * refused


def test_slow_fhir_server_is_abandoned_within_the_budget(make_app, socket_fhir_server):
    server = socket_fhir_server
    client = make_app(
        fhir_allowlist=server.base_url, fhir_timeout_seconds="0.5", dev="on", fhir_transport=SOCKETS
    ).test_client()
    server.answer(MEDS_QUERY, bundle([]), delay=3)
    started = time.monotonic()
    response = post_json(client, PATIENT_VIEW, hook_request("patient-view", {}, fhirServer=server.base_url))
    assert response.status_code == 412 and "in time" in response.get_json()["message"]
    assert time.monotonic() - started < 2


def test_huge_fhir_response_is_refused(make_app, fhir_server):
    client = make_app(fhir_allowlist=fhir_server.base_url, fhir_max_response_bytes="5000", dev="on").test_client()
    fhir_server.answer(MEDS_QUERY, bundle([med_request(f"m{i}", AZATHIOPRINE) for i in range(200)]))
    response = post_json(client, PATIENT_VIEW, hook_request("patient-view", {}, fhirServer=fhir_server.base_url))
    assert response.status_code == 412 and "larger than" in response.get_json()["message"]


def test_page_cap_stops_endless_paging(make_app, fhir_server):
    client = make_app(fhir_allowlist=fhir_server.base_url, fhir_max_pages="3", dev="on").test_client()
    fhir_server.answer(
        MEDS_QUERY,
        bundle(
            [med_request("aza", AZATHIOPRINE, authored=recent(300)[:10])],
            next_url=fhir_server.base_url + "/" + MEDS_QUERY,
        ),
    )  # loops forever
    fhir_server.answer(LABS_QUERY, bundle(cbc(recent(2))))
    response = post_json(client, PATIENT_VIEW, hook_request("patient-view", {}, fhirServer=fhir_server.base_url))
    assert response.status_code == 200
    assert ("DATA-02", "info") in card_keys(response.get_json())
    assert "beyond 3 pages" in data_notice(response)["detail"]
    assert len([r for r in fhir_server.requests if MEDS_QUERY in r["path"]]) == 3


def test_template_rendering():
    context = {"patientId": "p1", "encounterId": "e9", "userId": "PractitionerRole/r7"}
    assert render_template("Patient/{{context.patientId}}", context) == "Patient/p1"
    assert render_template("Encounter/{{ context.encounterId }}", context) == "Encounter/e9"
    assert (
        render_template("PractitionerRole/{{userPractitionerRoleId}}", context, context["userId"])
        == "PractitionerRole/r7"
    )
    with pytest.raises(FetchError):
        render_template("Practitioner/{{userPractitionerId}}", context, context["userId"])
    with pytest.raises(FetchError):
        render_template("Encounter/{{context.encounterId}}", {"patientId": "p1"})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://ehr.example.org/fhir", True),
        ("https://ehr.example.org/fhir/", True),
        ("https://ehr.example.org/fhir/r4", True),
        ("https://ehr.example.org:443/fhir", True),
        ("https://ehr.example.org/fhirx", False),
        ("https://ehr.example.org/", False),
        ("http://ehr.example.org/fhir", False),
        ("https://ehr.example.org:8443/fhir", False),
        ("https://ehr.example.org.evil.com/fhir", False),
        ("https://user:pw@ehr.example.org/fhir", False),
        ("file:///etc/passwd", False),
    ],
)
def test_allow_list_matches_scheme_host_port_and_path_prefix(url, allowed):
    assert FhirClient(("https://ehr.example.org/fhir",)).is_allowed(url) is allowed


def test_plain_http_fhir_server_is_not_called_outside_developer_mode(make_app, fhir_server):
    """Allow-listed but not https, and not developer mode: the token must not travel in clear."""
    client = make_app(fhir_allowlist=fhir_server.base_url).test_client()
    body = hook_request("patient-view", {}, fhirServer=fhir_server.base_url, fhirAuthorization=TOKEN)
    response = post_json(client, PATIENT_VIEW, body)
    assert response.status_code == 412 and fhir_server.requests == []


def test_https_required_except_loopback_in_developer_mode():
    plain = FhirClient(("http://127.0.0.1:9090/fhir", "http://ehr.example.org/fhir"), allow_loopback_http=True)
    assert plain.is_allowed("http://127.0.0.1:9090/fhir")
    assert not plain.is_allowed("http://ehr.example.org/fhir")  # never plain http to another host
    assert not FhirClient(("http://127.0.0.1:9090/fhir",)).is_allowed("http://127.0.0.1:9090/fhir")
