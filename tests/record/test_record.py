"""Building the patient record from FHIR data in its many real shapes."""

from __future__ import annotations

from datetime import UTC, datetime

from helpers import AZATHIOPRINE, FEBUXOSTAT, bundle, hook_request, med_request, observation, shipped_pack

from service.fhir import PatientData
from service.hooks.templates import prefetch_keys
from service.protocol import HookCall
from service.record import RecordBuilder
from service.terminology import Terminology

PACK = shipped_pack()
BUILDER = RecordBuilder(PACK, Terminology(PACK))
PREFETCH = prefetch_keys(PACK)
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def build(hook, prefetch, drafts=None, selections=None):
    body = hook_request(hook, prefetch, drafts=drafts, selections=selections)
    call = HookCall.from_request("svc", hook, body)
    return BUILDER.build(call, PatientData(call, PREFETCH, None, NOW), NOW)


def labs_and_meds(meds):
    return {"medicationRequests": bundle(meds), "labs": bundle([])}


def test_contained_medication():
    draft = med_request("d1", None, status="draft")
    del draft["medicationCodeableConcept"]
    draft["medicationReference"] = {"reference": "#m"}
    draft["contained"] = [
        {
            "resourceType": "Medication",
            "id": "m",
            "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "199310"}]},
        }
    ]
    record = build("order-sign", labs_and_meds([]), drafts=[draft])
    assert record.drafts[0].concepts == {"azathioprine"} and record.drafts[0].strength_mg == 25


def test_medication_referenced_by_absolute_url_in_the_prefetch_bundle():
    order = med_request("m1", None)
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "https://ehr.example.org/fhir/Medication/feb/_history/2"}
    medication = {"resourceType": "Medication", "id": "feb", "code": FEBUXOSTAT}
    record = build("patient-view", labs_and_meds([order, medication]))
    assert record.medications[0].concepts == {"febuxostat"}


def test_medication_known_only_by_its_ingredients():
    order = med_request("m1", None)
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "Medication/compound"}
    medication = {
        "resourceType": "Medication",
        "id": "compound",
        "code": {"text": "Compounded suspension"},
        "ingredient": [
            {
                "itemCodeableConcept": {
                    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1256"}]
                }
            }
        ],
    }
    record = build("patient-view", labs_and_meds([order, medication]))
    assert record.medications[0].concepts == {"azathioprine"}
    assert record.medications[0].evidence.startswith("ingredient")


def test_dstu2_medication_order_with_date_written():
    order = {
        "resourceType": "MedicationOrder",
        "id": "mo1",
        "status": "active",
        "dateWritten": "2025-01-02",
        "medicationCodeableConcept": AZATHIOPRINE,
    }
    record = build("patient-view", labs_and_meds([order]))
    use = record.medications[0]
    assert use.concepts == {"azathioprine"} and use.start == datetime(2025, 1, 2, tzinfo=UTC)


def test_unresolvable_reference_is_reported_not_dropped():
    order = med_request("m1", None)
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "Medication/missing"}
    record = build("patient-view", labs_and_meds([order]))
    assert record.medications == []
    assert record.medication_problems == [
        "MedicationRequest/m1 refers to a Medication (Medication/missing) that was not sent."
    ]


def test_unreadable_draft_entries_are_listed():
    body = hook_request("order-sign", labs_and_meds([]), drafts=[])
    body["context"]["draftOrders"]["entry"] = [
        "text",
        {"resource": {"no": "type"}},
        {"resource": med_request("x", None)},
    ]
    del body["context"]["draftOrders"]["entry"][2]["resource"]["medicationCodeableConcept"]
    call = HookCall.from_request("svc", "order-sign", body)
    record = BUILDER.build(call, PatientData(call, PREFETCH, None, NOW), NOW)
    assert record.unreadable_drafts == [
        "Entry 1 of draftOrders is not a FHIR resource.",
        "Entry 2 of draftOrders is not a FHIR resource.",
    ]  # a draft that names no medication yet is one being filled in, not unreadable data (issue 12)
    assert record.drafts == []


def test_withdrawn_and_non_medication_drafts_are_skipped():
    drafts = [
        med_request("c", AZATHIOPRINE, status="cancelled"),
        {"resourceType": "ServiceRequest", "id": "s", "status": "draft"},
    ]
    record = build("order-sign", labs_and_meds([]), drafts=drafts)
    assert record.drafts == [] and record.unreadable_drafts == []


def test_labs_from_panels_components_and_units():
    panel = {
        "resourceType": "Observation",
        "id": "p",
        "status": "final",
        "effectiveDateTime": "2026-11-20T08:00:00Z",
        "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
                "valueQuantity": {"value": 5400, "unit": "/uL"},
            }
        ],
    }
    weight = observation("w", "29463-7", 154, "[lb_av]", "2026-11-01")
    record = build(
        "patient-view",
        {
            "medicationRequests": bundle([med_request("a", AZATHIOPRINE)]),
            "labs": bundle([panel]),
            "weights": bundle([weight]),
        },
    )
    by_analyte = {result.analyte: result for result in record.labs}
    assert by_analyte["wbc"].value == 5.4 and by_analyte["wbc"].unit == "10*9/L"
    assert round(by_analyte["body-weight"].value, 2) == 69.85


def test_clinical_data_is_read_only_when_azathioprine_is_involved():
    record = build(
        "patient-view",
        {"medicationRequests": bundle([]), "labs": bundle([observation("w", "6690-2", 5, "10*9/L", "2026-11-01")])},
    )
    assert record.labs == []


def test_supply_end_from_duration_and_repeats_or_validity_period():
    order = med_request("a", AZATHIOPRINE, status="completed", authored="2026-06-01")
    order["dispenseRequest"] = {"expectedSupplyDuration": {"value": 30, "code": "d"}, "numberOfRepeatsAllowed": 2}
    record = build("patient-view", labs_and_meds([order]))
    assert record.medications[0].supply_end == datetime(2026, 8, 30, tzinfo=UTC)  # 30 days x (1 + 2 repeats)
    order["dispenseRequest"]["validityPeriod"] = {"end": "2026-07-15"}
    assert build("patient-view", labs_and_meds([order])).medications[0].supply_end == datetime(2026, 7, 15, tzinfo=UTC)


def condition(code_or_text, when=None, status="active", **extra) -> dict:
    code = (
        {"text": code_or_text}
        if " " in code_or_text
        else {"coding": [{"system": "http://snomed.info/sct", "code": code_or_text}]}
    )
    resource = {"resourceType": "Condition", "id": "c", "code": code, **extra,
                "clinicalStatus": {"coding": [{"code": status}]}}  # fmt: skip
    if when:
        resource["onsetDateTime"] = when
    return resource


def current(*conditions) -> set[str]:
    prefetch = labs_and_meds([med_request("a", AZATHIOPRINE)]) | {"conditions": bundle(list(conditions))}
    return set().union(*(entry.current for entry in build("patient-view", prefetch).conditions))


def test_a_pregnancy_recorded_longer_ago_than_the_pack_window_is_not_current():
    assert current(condition("72892002", "2026-03-01")) == {"pregnancy"}  # 273 days: within 42 weeks
    assert current(condition("72892002", "2023-11-01")) == set()  # three years, never closed
    assert current(condition("72892002")) == {"pregnancy"}  # undated: the card says no date was recorded


def test_history_counts_only_where_the_concept_says_so():
    assert current(condition("History of malignant neoplasm of breast", "2015-01-01")) == {"malignancy"}
    assert current(condition("History of renal transplant", "2010-01-01")) == {"kidney-transplant"}
    assert current(condition("Past pregnancy history of miscarriage", "2026-11-01")) == set()


def test_status_abatement_and_verification_still_decide_first():
    assert current(condition("72892002", "2026-10-01", status="resolved")) == set()
    assert current(condition("72892002", "2026-10-01", abatementDateTime="2026-11-01")) == set()
    refuted = condition("72892002", "2026-10-01", verificationStatus={"coding": [{"code": "refuted"}]})
    assert current(refuted) == set()


def test_entries_whose_status_says_not_current_are_left_out_before_their_codes_are_read():
    """A long record is mostly resolved conditions: no rule reads them, so no code of theirs is looked up. An
    encounter diagnosis without a status still counts (FHIR R4 con-3 asks a status only of problem-list items)."""
    from service.record.clinical import read_coded_entries

    no_status = condition("72892002", "2026-10-01")
    del no_status["clinicalStatus"]
    entries = [
        condition("72892002", "2026-10-01", status="resolved"),
        condition("72892002", "2026-10-01", abatementString="after delivery"),
        condition("72892002", "2026-10-01", verificationStatus={"coding": [{"code": "entered-in-error"}]}),
        no_status,
        condition("72892002", "2026-10-01", status="relapse"),
    ]
    terms, looked_up = Terminology(PACK), []
    match_entry = terms.match_entry
    terms.match_entry = lambda code, extra_text=(): looked_up.append(code) or match_entry(code, extra_text=extra_text)
    kept = read_coded_entries(entries, terms, current_only=True)
    assert [entry.status for entry in kept] == ["", "relapse"] and len(looked_up) == 2
    assert all(entry.concepts == {"pregnancy"} for entry in kept)
    assert len(read_coded_entries(entries, terms)) == 5  # immunizations: every entry, whatever its status


def test_any_abatement_ends_an_entry_whatever_the_fhir_version_calls_it():
    """DSTU1 wrote `abatementDate`; whatever follows "abatement", a recorded end is an end."""
    from service.record.clinical import read_coded_entries

    for key in ("abatementDateTime", "abatementDate", "abatementBoolean", "abatementString"):
        entries = [condition("72892002", "2026-10-01", **{key: "2026-11-01"})]
        assert read_coded_entries(entries, Terminology(PACK), current_only=True) == [], key


def test_a_deceased_patient_is_recorded_as_such():
    prefetch = labs_and_meds([med_request("a", AZATHIOPRINE)])
    prefetch["patient"] = {"resourceType": "Patient", "id": "p", "deceasedDateTime": "2026-10-01"}
    assert build("patient-view", prefetch).deceased == datetime(2026, 10, 1, tzinfo=UTC)
    prefetch["patient"] = {"resourceType": "Patient", "id": "p", "deceasedBoolean": True}
    assert build("patient-view", prefetch).deceased is True
    prefetch["patient"] = {"resourceType": "Patient", "id": "p", "deceasedDateTime": "2027-01-01"}  # not yet
    assert build("patient-view", prefetch).deceased is None


def test_orders_and_statements_of_something_never_taken_are_not_uses():
    """FHIR R4: a cancelled order was withdrawn before any administration, a draft on file was never issued, a
    statement 'not-taken' says it was not taken. None of them makes a course, so an order now is a new start; the
    prefetch templates do not ask for them either."""
    from service.record.therapy import NEW_START, RENEWAL, therapy_of

    never = [
        med_request("c", AZATHIOPRINE, status="cancelled", authored="2026-11-01"),
        med_request("d", AZATHIOPRINE, status="draft", authored="2026-11-02"),
        {"resourceType": "MedicationStatement", "id": "s", "status": "not-taken",
         "medicationCodeableConcept": AZATHIOPRINE, "effectiveDateTime": "2026-11-03"},
        med_request("e", AZATHIOPRINE, status="entered-in-error", authored="2026-11-04"),
    ]  # fmt: skip
    record = build("order-sign", {"medicationRequests": bundle(never), "labs": bundle([])},
                   drafts=[med_request("new", AZATHIOPRINE, status="draft", authored="2026-11-29")])  # fmt: skip
    assert record.medications == []
    assert therapy_of(record, "azathioprine", record.drafts[0]).state == NEW_START
    taken = build("order-sign", {"medicationRequests": bundle([med_request("a", AZATHIOPRINE, authored="2026-11-01")]),
                                 "labs": bundle([])},
                  drafts=[med_request("new", AZATHIOPRINE, status="draft", authored="2026-11-29")])  # fmt: skip
    assert therapy_of(taken, "azathioprine", taken.drafts[0]).state == RENEWAL  # the same order, once taken
