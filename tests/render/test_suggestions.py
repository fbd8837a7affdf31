"""Suggestions: reduced-dose updates are valid R4 MedicationRequests at the sourced fraction; noise control."""

from __future__ import annotations

from fhir.resources.R4B.medicationrequest import MedicationRequest
from helpers import FIXTURES, card_keys, post_json

from service.replay import load_fixture


def cards_for(client, name, folder=FIXTURES / "rules"):
    fixture = load_fixture(folder / f"{name}.json")
    response = post_json(client, f"/cds-services/{fixture['service']}", fixture["request"])
    assert response.status_code == 200
    return response.get_json()


def update_action(card) -> dict:
    [suggestion] = [s for s in card["suggestions"] if s["actions"][0]["type"] == "update"]
    return suggestion["actions"][0]["resource"]


def daily_mg(order: dict) -> float:
    [line] = order["dosageInstruction"]
    assert line["timing"]["code"]["coding"][0]["code"] == "QD"
    return line["doseAndRate"][0]["doseQuantity"]["value"]


def test_intermediate_metabolizer_gets_a_reduced_dose_update(client):
    """CPIC: 30-80% of the normal dose; the pack proposes 80% of the drafted 150 mg/day, rounded down to 25 mg."""
    card = next(
        c
        for c in cards_for(client, "pgx-01-nudt15-intermediate-genomics-ig")["cards"]
        if c["source"]["topic"]["code"] == "PGX-01"
    )
    order = update_action(card)
    MedicationRequest.model_validate(order)
    assert order["id"] == "draft-aza" and daily_mg(order) == 100  # 150 x 0.8 = 120 -> 100
    assert not any(s["actions"][0]["type"] == "delete" for s in card["suggestions"])  # cancel is for poor metabolizers


def test_poor_metabolizer_is_offered_cancellation_not_a_dose(client):
    card = next(c for c in cards_for(client, "pgx-01-tpmt-poor-new-start")["cards"] if c["indicator"] == "critical")
    assert [a["type"] for s in card["suggestions"] for a in s["actions"]] == ["delete"]


def test_allopurinol_dose_update_is_about_a_third(client):
    """Label: 1/3 to 1/4 of the usual dose. 2 x 25 mg twice daily = 100 mg/day -> 33 mg -> 25 mg once daily."""
    card = cards_for(client, "order-sign-azathioprine-tablets-with-allopurinol", FIXTURES)["cards"][0]
    order = update_action(card)
    MedicationRequest.model_validate(order)
    assert daily_mg(order) == 25 and order["medicationReference"] == {"reference": "#aza25"}
    assert order["contained"][0]["id"] == "aza25"


def test_allopurinol_dose_update_of_150_mg_is_50_mg_not_25(client):
    """A third of 150 mg is 50 mg, a whole 25 mg step (the pack's 0.33 gives 49.5: not a reason to halve it)."""
    body = cards_for(client, "dose-04-full-dose-with-allopurinol-on-chart")
    assert card_keys(body) == [("DOSE-04", "critical")] and "suggestions" not in body["cards"][0]  # no draft to update
    fixture = load_fixture(FIXTURES / "rules" / "dose-04-full-dose-with-allopurinol-on-chart.json")
    request = fixture["request"]
    draft = dict(request["prefetch"]["medicationRequests"]["entry"][0]["resource"], id="draft", status="draft")
    request |= {"hook": "order-sign"}
    request["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": draft}]}
    response = post_json(client, "/cds-services/azathioprine-order-sign", request)
    card = next(c for c in response.get_json()["cards"] if c["source"]["topic"]["code"] == "DOSE-04")
    assert daily_mg(update_action(card)) == 50


def test_the_sandboxs_draft_gets_its_reduce_dose_suggestion(client):
    """Sandbox run of issue 13: its drafts carry `category` as one object (R4: a list), the updated order failed
    validation and the suggestion was silently left out. It is now a list of one."""
    body = cards_for(client, "order-sign-sandbox-pill-dose-with-allopurinol", FIXTURES)
    card = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "DOSE-04")
    order = update_action(card)
    MedicationRequest.model_validate(order)
    assert daily_mg(order) == 50 and isinstance(order["category"], list)  # 3 x 50 mg tablets -> a third


def test_order_sign_repeats_only_warning_and_critical_by_default(make_app):
    fixture = load_fixture(FIXTURES / "rules" / "data-03-no-weight.json")  # an info card on both order hooks
    body = fixture["request"] | {"hook": "order-sign"}
    body["context"] = {k: v for k, v in body["context"].items() if k != "selections"}
    quiet = post_json(make_app().test_client(), "/cds-services/azathioprine-order-sign", body).get_json()
    assert quiet["cards"] == []
    loud = post_json(make_app(order_sign_info="on").test_client(), "/cds-services/azathioprine-order-sign", body)
    assert card_keys(loud.get_json()) == [("DATA-03", "info")]


def test_info_cards_can_be_switched_off(make_app):
    fixture = load_fixture(FIXTURES / "order-select-new-start-without-cbc.json")
    client = make_app(info_cards="off").test_client()
    body = post_json(client, "/cds-services/azathioprine-order-select", fixture["request"]).get_json()
    assert card_keys(body) == [("MON-01", "warning")]


def test_data_notices_are_repeated_on_order_sign(client):
    body = cards_for(client, "order-sign-draft-naming-unsent-medication", FIXTURES)
    assert card_keys(body) == [("DATA-01", "info")]


def test_a_dose_change_names_a_draft_medication_request_by_reference_only():
    """The finding carries the draft's reference, its daily dose and the factor, never the FHIR resource: rendering
    finds the draft in the request. Only a draft MedicationRequest with an id and a computed dose can be updated."""
    import dataclasses

    from service.record import MedicationUse
    from service.record.daily_dose import DailyDose
    from service.rules.findings import DoseChange

    concepts = frozenset({"azathioprine"})
    draft = MedicationUse("MedicationRequest/d1", "MedicationRequest", "d1", "draft", concepts, "azathioprine 50 mg",
                          "RxNorm 197388", is_draft=True, dose=DailyDose(150.0, 150.0), draft_position=2)  # fmt: skip
    assert DoseChange.of(draft, 1 / 3) == DoseChange("MedicationRequest/d1", 2, 150.0, 1 / 3)
    assert DoseChange.of(draft, None) is None
    assert DoseChange.of(dataclasses.replace(draft, dose=DailyDose(problem="free text")), 0.5) is None
    assert DoseChange.of(dataclasses.replace(draft, is_draft=False, draft_position=None), 0.5) is None  # on file
    assert DoseChange.of(dataclasses.replace(draft, resource_id=None), 0.5) is None
    statement = dataclasses.replace(draft, reference="MedicationStatement/d1", resource_type="MedicationStatement")
    assert DoseChange.of(statement, 0.5) is None
    assert not any(field.type in ("dict", "dict | None") for field in dataclasses.fields(MedicationUse))


def test_the_update_changes_the_flagged_draft_even_when_two_drafts_share_its_id(client):
    """Ids in draftOrders need not be unique: the reduced dose goes to the azathioprine draft the finding is about,
    found by its position, never to another draft that carries the same id."""
    fixture = load_fixture(FIXTURES / "order-sign-azathioprine-tablets-with-allopurinol.json")
    request = fixture["request"]
    entries = request["context"]["draftOrders"]["entry"]
    aza = entries[0]["resource"]
    metformin = {**aza, "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                 "code": "861007", "display": "metformin hydrochloride 500 MG Oral Tablet"}]}}  # fmt: skip
    metformin.pop("contained", None)
    metformin.pop("medicationReference", None)
    entries.append({"resource": metformin})
    response = post_json(client, f"/cds-services/{fixture['service']}", request)
    assert response.status_code == 200
    updates = [a["resource"] for c in response.get_json()["cards"] for s in c.get("suggestions", [])
               for a in s["actions"] if a["type"] == "update"]  # fmt: skip
    assert updates, "the fixture's DOSE-04 card suggests a reduced dose"
    for resource in updates:  # the azathioprine draft: its contained Medication, no metformin code
        assert resource["medicationReference"] == aza["medicationReference"]
        assert "medicationCodeableConcept" not in resource
