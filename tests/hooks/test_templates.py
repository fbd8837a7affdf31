"""The prefetch templates derived from the knowledge pack: nothing the rules read is lost by narrowing them, paging
stops at the rules' look-back and says when it could not reach it, and the settings restore the broad searches."""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from helpers import (
    AZATHIOPRINE,
    LOINC,
    PACK_DIR,
    bundle,
    card_keys,
    hook_request,
    med_request,
    observation,
    post_json,
    shipped_pack,
)

from service.config import ConfigError, Settings
from service.fhir import PatientData, render_template
from service.fhir.memory_server import InMemoryFhirServer, UnsupportedSearch
from service.hooks.templates import prefetch_keys
from service.knowledge import load_pack
from service.protocol import HookCall
from service.record import RecordBuilder
from service.rules import analytes_read
from service.terminology import Terminology

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
EHR = "https://ehr.example/fhir"
PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01", "gender": "female"}
HGNC = "http://www.genenames.org"
# Concepts of the lab and genomics value sets whose codes are answers or component codes, never an Observation's
# own code: nothing is searched for by them. Every other concept there must survive the narrow templates.
VALUE_CODES = {"gene-tpmt", "gene-nudt15", "pgx-gene-studied", "pgx-medication-assessed", "phenotype-poor",
               "phenotype-intermediate", "phenotype-possible-intermediate", "phenotype-normal",
               "phenotype-indeterminate", "phenotype-not-cpic", "activity-flag-poor", "activity-flag-intermediate",
               "activity-flag-normal"}  # fmt: skip


def day(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def results_of(pack, call_prefetch: dict, transport=None) -> tuple:
    """What the record builder reads from these Observations: lab values, and TPMT/NUDT15 findings."""
    from service.fhir import FhirClient

    body = hook_request("patient-view", call_prefetch, fhirServer=EHR)
    call = HookCall.from_request("svc", "patient-view", body)
    client = FhirClient((EHR,), transport=transport) if transport else None
    builder = RecordBuilder(pack, Terminology(pack))
    record = builder.build(call, PatientData(call, prefetch_keys(pack), client, NOW), NOW)
    read = analytes_read(pack)  # what the rules read: a lab no rule reads (haemoglobin) need not be asked for
    labs = sorted((r.analyte, r.code, r.value, r.text) for r in record.labs if r.analyte in read)
    return labs, record.phenotypes, record.has_pgx_result, record.pgx_uninterpretable


def shapes(concept, code) -> list[dict]:
    """Results coded with `code` as labs send them: a plain value, and (for a code that is no lab value, so may be a
    genetic result) a TPMT genotype with its gene named."""
    coding = {"system": code.system, "code": code.code}
    plain = {"resourceType": "Observation", "id": "plain", "status": "final", "effectiveDateTime": day(3),
             "code": {"coding": [coding]}}  # fmt: skip
    if concept.unit:
        plain["valueQuantity"] = {"value": 1.5, "unit": concept.unit, "code": concept.unit}
        return [plain]  # a haemoglobin with a gene component is no result any lab sends
    plain["valueCodeableConcept"] = {"text": "Positive"}
    genotype = plain | {"id": "genotype", "valueString": "*1/*3A"}
    genotype["component"] = [
        {"code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
         "valueCodeableConcept": {"coding": [{"system": HGNC, "code": "HGNC:12014", "display": "TPMT"}]}}
    ]  # fmt: skip
    return [plain, genotype]


def lost_by_narrowing(pack, pack_dir) -> list[str]:
    """Every code of the lab and genomics value sets, one result at a time: what the rules read of the record when
    the EHR sends every result (the broad search of old) and when it answers the templates. Differences are losses."""
    ids = {c["id"] for name in ("labs", "genomics")
           for c in json.loads((pack_dir / "valuesets" / f"{name}.json").read_text())["concepts"]}  # fmt: skip
    templates = {name: key.template for name, key in prefetch_keys(pack).items()}
    lost = []
    for concept in (pack.concepts[i] for i in sorted(ids - VALUE_CODES)):
        for code in concept.codes:
            for result in shapes(concept, code):
                everything = {
                    "medicationRequests": bundle([med_request("aza", AZATHIOPRINE)]),
                    "labs": bundle([result]),
                }
                server = InMemoryFhirServer(PATIENT, [everything["medicationRequests"]["entry"][0]["resource"], result])
                answered = server.prefetch(templates, {"patientId": "p1"})
                if results_of(pack, everything) != results_of(pack, answered):
                    lost.append(f"{concept.id} {code.code} ({result['id']})")
    return lost


def test_every_result_the_rules_read_is_reachable_through_the_templates():
    pack = shipped_pack()
    assert lost_by_narrowing(pack, PACK_DIR) == []
    # the check can see a loss: each concept it looks at yields something from its results
    assert results_of(pack, {"labs": bundle(shapes(pack.concepts["inr"], pack.concepts["inr"].codes[0])[:1]),
                             "medicationRequests": bundle([med_request("aza", AZATHIOPRINE)])})[0]  # fmt: skip


def test_a_rule_that_reads_a_result_the_templates_do_not_ask_for_is_caught(tmp_path):
    """MON-03 given a haemoglobin threshold, which no rule read before (so no search asked for it): both checks name
    it, the comparison of records and the one of what rules read against what is asked for."""
    shutil.copytree(PACK_DIR, tmp_path / "cards")
    rules_file = tmp_path / "cards" / "rules" / "monitoring.json"
    rules = json.loads(rules_file.read_text())
    mon03 = next(rule for rule in rules["rules"] if rule["id"] == "MON-03")
    mon03["parameters"]["thresholds"]["value"].append({"analyte": "hemoglobin", "below": 100, "indicator": "warning"})
    rules_file.write_text(json.dumps(rules))
    changed = load_pack(tmp_path / "cards")
    lost = lost_by_narrowing(changed, tmp_path / "cards")
    assert lost and all(line.startswith("hemoglobin ") for line in lost)
    assert not_asked_for(changed) == {"hemoglobin"}


def not_asked_for(pack) -> set[str]:
    return {analyte for analyte in analytes_read(pack) if pack.concepts[analyte].prefetch not in ("labs", "weights")}


PANELS = {"cbc-panel-order", "lft-panel-order", "result-panels"}  # asked for so that their components are found


def test_the_searches_ask_for_what_the_rules_read_and_nothing_else():
    pack = shipped_pack()
    asked = {c.id for c in pack.concepts.values() if c.prefetch in ("labs", "weights")}
    assert not_asked_for(pack) == set()
    assert asked - analytes_read(pack) == PANELS  # haemoglobin and ALP, which no rule reads, are not asked for
    assert "hemoglobin" not in asked and "alp" not in asked


def test_templates_keep_to_the_subset_the_in_memory_server_knows():
    """The server refuses what CDS Hooks 2.0's recommended subset leaves out; every template passes it."""
    server = InMemoryFhirServer(PATIENT, [])
    for key in prefetch_keys(shipped_pack()).values():
        server.get(render_template(key.template, {"patientId": "p1"}))
    with pytest.raises(UnsupportedSearch):
        server.get("Condition?patient=p1&clinical-status:not=resolved")


def test_the_settings_restore_the_broad_searches():
    pack = shipped_pack()
    narrow, broad = prefetch_keys(pack, conditions="current"), prefetch_keys(pack, labs="by-category")
    assert "&code=6690-2," in narrow["labs"].template and "_sort=-date" in narrow["labs"].template
    assert broad["labs"].template == "Observation?patient={{context.patientId}}&category=laboratory"
    assert not broad["labs"].newest_first and broad["labs"].horizon_days == 455  # still not parsed beyond it
    assert narrow["conditions"].template.endswith("&clinical-status=active,recurrence,relapse")
    assert broad["conditions"].template == "Condition?patient={{context.patientId}}"  # the default: see below
    assert prefetch_keys(pack)["conditions"].template == "Condition?patient={{context.patientId}}"
    assert Settings.from_mapping({"AZA_CDS_PREFETCH_LABS": "by-category"}).lab_prefetch == "by-category"
    assert Settings.from_mapping({}).condition_prefetch == "all"
    with pytest.raises(ConfigError, match="AZA_CDS_PREFETCH_CONDITIONS must be 'all' or 'current'"):
        Settings.from_mapping({"AZA_CDS_PREFETCH_CONDITIONS": "some"})


def test_discovery_shows_the_setting(make_app):
    client = make_app(prefetch_labs="by-category").test_client()
    services = client.get("/cds-services").get_json()["services"]
    assert {s["prefetch"]["labs"] for s in services} == {
        "Observation?patient={{context.patientId}}&category=laboratory"
    }


def test_the_horizons_are_the_longest_look_back_of_the_rules_that_read_each_search():
    keys = prefetch_keys(shipped_pack())
    # MON-03: 90 days in which a result counts and the year of creatinine before it; weights: 90 days (DOSE-01..04)
    assert (keys["labs"].horizon_days, keys["weights"].horizon_days, keys["genomics"].horizon_days) == (455, 90, None)


def history(years: int, per_month: int, seed: int = 7) -> list[dict]:
    """Monthly CBCs (WBC, platelets) and ALTs over `years`, `per_month` draws a month, all normal."""
    results = []
    for draw in range(years * 12 * per_month):
        when = day(2 + draw * 30 / per_month)
        for code, value, unit in (("6690-2", 6.1, "10*3/uL"), ("777-3", 250, "10*3/uL"), ("1742-6", 22, "U/L")):
            results.append(observation(f"{code}-{draw}", code, value, unit, when))
    random.Random(seed).shuffle(results)  # a store keeps them in no order; the search sorts
    return results


@pytest.fixture
def ehr():
    """20 years of CBCs and ALTs drawn every 3.75 days: 5,760 results, 58 pages of 100."""
    orders = [med_request("aza", AZATHIOPRINE, authored=day(3000)[:10])]
    return InMemoryFhirServer(PATIENT, orders + history(years=20, per_month=8))


def call_back_all(make_app, ehr: InMemoryFhirServer, **settings):
    client = make_app(fhir_allowlist=EHR, fhir_transport=ehr.transport(), **settings).test_client()
    body = hook_request("patient-view", {"patient": PATIENT}, fhirServer=EHR)
    return post_json(client, "/cds-services/azathioprine-patient-view", body)


def lab_pages(ehr: InMemoryFhirServer) -> int:
    return sum("6690-2" in url for url in ehr.requests)


def test_paging_stops_once_the_look_back_is_covered(make_app, ehr):
    """455 days (and one of margin) hold 122 draws, 366 results: page 4 reaches past them; 54 pages are not read."""
    response = call_back_all(make_app, ehr)
    assert response.status_code == 200 and card_keys(response.get_json()) == []  # current and normal
    assert lab_pages(ehr) == 4


def test_paging_short_of_the_look_back_is_said_with_the_checks_it_affects(make_app, ehr):
    response = call_back_all(make_app, ehr, fhir_max_pages="2")
    assert lab_pages(ehr) == 2
    notice = next(c for c in response.get_json()["cards"] if c["source"]["topic"]["code"] == "DATA-02")
    # 200 results are 67 draws (the last one partly): back to day 2 + 66 x 3.75 = 249.5
    reached = day(2 + 66 * 3.75)[:10]
    assert f"results were read back to {reached} only" in notice["detail"]
    # the rules that read labs further back than that; MON-05 (90 days) and PREC-01 (42) saw all they look at
    assert (
        "checks that look further back: DOSE-05 (365 days), MON-01 (365 days), MON-02 (365 days), MON-03 (455 days)"
        in (notice["detail"])
    )


def test_a_server_that_ignores_the_sort_is_read_to_the_end(make_app, ehr):
    unsorted = InMemoryFhirServer(PATIENT, ehr.resources, honours_sort=False)
    response = call_back_all(make_app, unsorted, fhir_max_pages="60", fhir_timeout_seconds="60")
    assert response.status_code == 200 and card_keys(response.get_json()) == []
    assert lab_pages(unsorted) == 58  # out of order: no page says that the rest is older


def test_results_before_the_look_back_are_not_read():
    """A CBC 400 days ago is older than MON-01's year: not read as today's monitoring (and not parsed)."""
    pack = shipped_pack()
    old, older = (
        observation("w1", "6690-2", 6, "10*3/uL", day(400)),
        observation("w2", "6690-2", 6, "10*3/uL", day(460)),
    )
    labs, *_ = results_of(
        pack, {"labs": bundle([old, older]), "medicationRequests": bundle([med_request("a", AZATHIOPRINE)])}
    )
    assert [analyte for analyte, *_ in labs] == ["wbc"]  # the one within 455 days, not the one beyond


def test_a_first_page_that_covers_the_look_back_needs_no_more(make_app):
    """An EHR that sends page 1 of 58 in the prefetch and no fhirServer: nothing is missing from what rules read."""
    client = make_app().test_client()
    ehr = InMemoryFhirServer(PATIENT, history(years=20, per_month=1))  # a draw a month: 100 results are 33 months
    prefetch = ehr.prefetch({"labs": prefetch_keys(shipped_pack())["labs"].template}, {"patientId": "p1"})
    assert "link" in prefetch["labs"]
    prefetch["medicationRequests"] = bundle([med_request("aza", AZATHIOPRINE, authored=day(3000)[:10])])
    response = post_json(client, "/cds-services/azathioprine-patient-view", hook_request("patient-view", prefetch))
    assert card_keys(response.get_json()) == []


def test_a_first_page_short_of_the_look_back_is_said(make_app, ehr):
    client = make_app().test_client()
    prefetch = ehr.prefetch({"labs": prefetch_keys(shipped_pack())["labs"].template}, {"patientId": "p1"})
    prefetch["medicationRequests"] = bundle([med_request("aza", AZATHIOPRINE, authored=day(3000)[:10])])
    response = post_json(client, "/cds-services/azathioprine-patient-view", hook_request("patient-view", prefetch))
    assert card_keys(response.get_json()) == [("DATA-02", "info")]
    detail = response.get_json()["cards"][0]["detail"]
    assert "only the first page was sent and the next could not be fetched" in detail
    assert f"read back to {day(2 + 33 * 3.75)[:10]} only" in detail  # 100 results: 34 draws, the last one partly


def test_daily_weights_need_one_page_the_dose_rules_read_the_newest_only(make_app):
    """An inpatient weighed daily: the newest of the first page is the weight the dose checks use; 90 days of daily
    weights are not paged through."""
    weights = [observation(f"kg-{d}", "29463-7", 70 - d / 100, "kg", day(d + 0.5)) for d in range(400)]
    for weight in weights:
        weight["code"]["coding"][0]["system"] = LOINC
    ehr = InMemoryFhirServer(PATIENT, [med_request("aza", AZATHIOPRINE, authored=day(3000)[:10]), *weights])
    call_back_all(make_app, ehr)
    assert sum("29463-7" in url for url in ehr.requests) == 1


def test_a_live_vaccine_among_decades_of_shots_is_found_on_the_first_page(make_app):
    """DDI-09 (a live vaccine in the 4 weeks before azathioprine starts): 40 yearly influenza shots and a zoster
    vaccine 10 days ago, searched newest first. The card still fires, from one page of immunizations."""
    from helpers import FIXTURES

    from service.replay import load_fixture

    fixture = load_fixture(FIXTURES / "rules" / "ddi-09-live-zoster-given-10-days-before-start.json")
    request = fixture["request"]
    zoster = request["prefetch"].pop("immunizations")["entry"][0]["resource"]
    influenza = {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]}
    flu = [{"resourceType": "Immunization", "id": f"flu-{y}", "status": "completed", "vaccineCode": influenza,
            "occurrenceDateTime": day(365 * y + 40)} for y in range(40)]  # fmt: skip
    patient = {"resourceType": "Patient", "id": request["context"]["patientId"]}
    ehr = InMemoryFhirServer(patient, [*flu, zoster])
    client = make_app(fhir_allowlist=EHR, fhir_transport=ehr.transport()).test_client()
    response = post_json(client, "/cds-services/azathioprine-order-select", request | {"fhirServer": EHR})
    assert card_keys(response.get_json()) == [("DDI-09", "warning"), ("PREC-05", "info")]  # as the fixture expects
    assert sum("Immunization" in url for url in ehr.requests) == 1


def test_a_page_that_fails_keeps_the_pages_read_and_says_how_far_back_they_go(make_app, ehr):
    """Page 2 of the lab results answers HTTP 500: page 1 is used (not a 412), and DATA-02 says what was missed."""
    import httpx

    served = ehr.transport()

    def flaky(request: httpx.Request) -> httpx.Response:
        if "6690-2" in str(request.url) and "_offset=100" in str(request.url):
            return httpx.Response(500, json={"resourceType": "OperationOutcome"})
        return served.handle_request(request)

    client = make_app(fhir_allowlist=EHR, fhir_transport=httpx.MockTransport(flaky)).test_client()
    body = hook_request("patient-view", {"patient": PATIENT}, fhirServer=EHR)
    response = post_json(client, "/cds-services/azathioprine-patient-view", body)
    assert response.status_code == 200 and card_keys(response.get_json()) == [("DATA-02", "info")]
    detail = response.get_json()["cards"][0]["detail"]
    assert "labs: page 2 could not be fetched (the FHIR server answered HTTP 500)" in detail
    assert f"read back to {day(2 + 33 * 3.75)[:10]} only" in detail


def test_a_server_that_refuses_the_narrow_search_is_asked_the_broad_one(make_app, caplog):
    """A server without `_sort` for Observation answers 400: the service asks for every laboratory result instead
    (the search of old), reads all of it, gets the same cards, and says once in the log what to set."""
    import httpx

    orders = [med_request("aza", AZATHIOPRINE, authored=day(3000)[:10])]
    lab = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
    results = [o | {"category": [lab]} for o in history(years=2, per_month=2)]
    ehr = InMemoryFhirServer(PATIENT, orders + results)
    served = ehr.transport()

    refused = []

    def no_sort(request: httpx.Request) -> httpx.Response:
        if "_sort" in str(request.url):
            refused.append(str(request.url))
            return httpx.Response(400, json={"resourceType": "OperationOutcome"})
        return served.handle_request(request)

    client = make_app(fhir_allowlist=EHR, fhir_transport=httpx.MockTransport(no_sort)).test_client()
    for _ in range(2):
        body = hook_request("patient-view", {"patient": PATIENT}, fhirServer=EHR)
        response = post_json(client, "/cds-services/azathioprine-patient-view", body)
        assert response.status_code == 200 and card_keys(response.get_json()) == []  # counts current: read them all
    assert any("category=laboratory" in url for url in ehr.requests)
    refusals = [r for r in caplog.records if "refused the 'labs' search" in r.getMessage()]
    assert len(refusals) == 1 and "AZA_CDS_PREFETCH_LABS=by-category" in refusals[0].getMessage()
    assert "CONDITIONS" not in refusals[0].getMessage()  # the setting for this key only
    assert len([url for url in refused if "6690-2" in url]) == 1  # the second call went straight to the broad one


# Shapes an independent review found the first narrow templates missed (each was a different card with broad ones).
TBD = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
GENE_TPMT = {"coding": [{"system": HGNC, "code": "HGNC:12014", "display": "TPMT"}]}


LABORATORY = [
    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
]


def component(code: str, value: dict) -> dict:
    return {"code": {"coding": [{"system": LOINC, "code": code}]}, "valueCodeableConcept": value}


def variant_and_implication() -> list[dict]:
    """Genomics Reporting IG: a Therapeutic Implication (poor metabolizer) naming no gene, derived from a Variant
    Observation (69548-6) that names TPMT."""
    result = {"resourceType": "Observation", "status": "final", "effectiveDateTime": "2019-04-01"}
    variant = result | {"id": "tpmt-variant", "code": {"coding": [{"system": LOINC, "code": "69548-6"}]},
                        "component": [component("48018-6", GENE_TPMT)]}  # fmt: skip
    poor = {"coding": [{"system": LOINC, "code": "LA9657-3", "display": "Poor metabolizer"}]}
    implication = result | {"id": "tpmt-ti", "code": {"coding": [{"system": TBD, "code": "therapeutic-implication"}]},
                            "derivedFrom": [{"reference": "Observation/tpmt-variant"}],
                            "component": [component("53040-2", poor)]}  # fmt: skip
    return [variant, implication]


def low_counts_under_the_loinc_oid() -> list[dict]:
    counts = [observation("w", "6690-2", 2.1, "10*3/uL", day(3)), observation("p", "777-3", 95, "10*3/uL", day(3))]
    for result in counts:
        result["code"]["coding"][0]["system"] = "urn:oid:2.16.840.1.113883.6.1"
    return counts


def low_counts_as_one_panel() -> list[dict]:
    quantity = lambda v: {"value": v, "unit": "10*3/uL", "code": "10*3/uL"}  # noqa: E731
    parts = [{"code": {"coding": [{"system": LOINC, "code": code}]}, "valueQuantity": quantity(value)}
             for code, value in (("6690-2", 1.9), ("777-3", 240))]  # fmt: skip
    return [{"resourceType": "Observation", "id": "cbc", "status": "final", "effectiveDateTime": day(3),
             "code": {"coding": [{"system": LOINC, "code": "57021-8"}]}, "component": parts}]  # fmt: skip


def clinic_weight_then_weights_not_taken() -> list[dict]:
    weights = [observation("kg-clinic", "29463-7", 52, "kg", day(12))]
    for d in range(5):
        missing = observation(f"kg-icu{d}", "29463-7", 0, "kg", day(d + 0.3))
        del missing["valueQuantity"]
        weights.append(missing | {"dataAbsentReason": {"text": "not performed"}})
    return weights + [*history(years=1, per_month=1)[:3]]


def pregnancy_as_an_encounter_diagnosis() -> list[dict]:
    coded = lambda system, code: {"coding": [{"system": system, "code": code}]}  # noqa: E731
    return [
        {"resourceType": "Condition", "id": "ra", "code": coded("http://snomed.info/sct", "69896004"),
         "clinicalStatus": coded("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")},
        {"resourceType": "Condition", "id": "preg", "code": coded("http://snomed.info/sct", "77386006"),
         "recordedDate": day(20)[:10]},  # an encounter diagnosis: US Core asks no clinical status of it
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("shape", "hook", "expected"),
    [
        (variant_and_implication, "order-select", ("PGX-01", "critical")),  # CPIC: TPMT poor -> alternative
        (low_counts_under_the_loinc_oid, "patient-view", ("MON-03", "critical")),  # BSR: WBC < 3.5, platelets < 140
        (low_counts_as_one_panel, "patient-view", ("MON-03", "critical")),
        (clinic_weight_then_weights_not_taken, "order-sign", ("DOSE-03", "warning")),  # 200 mg/day for 52 kg: 3.8
        (pregnancy_as_an_encounter_diagnosis, "order-select", ("CI-03", "critical")),  # label: RA in pregnancy
    ],
    ids=["variant-implication", "loinc-oid", "panel-components", "unusable-newest-weights", "encounter-diagnosis"],
)
def test_narrow_templates_give_the_cards_the_broad_ones_give(make_app, shape, hook, expected):
    dose = [{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
             "doseAndRate": [{"doseQuantity": {"value": 100, "unit": "mg", "code": "mg"}}]}]  # fmt: skip
    on_file = [med_request("aza-old", AZATHIOPRINE, authored=day(400)[:10], dosageInstruction=dose)]
    drafts = [med_request("draft", AZATHIOPRINE, status="draft", authored=day(0)[:10], dosageInstruction=dose)]
    if shape is variant_and_implication or shape is pregnancy_as_an_encounter_diagnosis:
        on_file = []  # a new start
    resources = on_file + [r | {"category": LABORATORY} if r["resourceType"] == "Observation" else r for r in shape()]
    found = {}
    for mode, settings, whole in (("narrow", {}, False), ("broad", {"prefetch_labs": "by-category"}, True)):
        ehr = InMemoryFhirServer(PATIENT, resources)
        client = make_app(fhir_allowlist=EHR, fhir_transport=ehr.transport(), **settings).test_client()
        templates = {k: s for k, s in client.get("/cds-services").get_json()["services"][0]["prefetch"].items()}
        request = hook_request(hook, ehr.prefetch(templates, {"patientId": "p1"}, whole=whole), fhirServer=EHR,
                               drafts=drafts if hook != "patient-view" else None,
                               selections=["MedicationRequest/draft"] if hook == "order-select" else None)  # fmt: skip
        found[mode] = card_keys(post_json(client, f"/cds-services/azathioprine-{hook}", request).get_json())
    assert found["narrow"] == found["broad"] and expected in found["narrow"], found


def test_a_server_that_does_not_say_it_sorted_is_read_to_the_end(make_app):
    """Stored newest first, so every page looks sorted, but its `self` link shows no `_sort`: the service cannot
    know the order and reads every page (58), rather than stopping at a horizon it has not seen."""
    newest_first = sorted(history(years=20, per_month=8), key=lambda r: r["effectiveDateTime"], reverse=True)
    orders = [med_request("aza", AZATHIOPRINE, authored=day(3000)[:10])]
    ehr = InMemoryFhirServer(PATIENT, orders + newest_first, honours_sort=False)
    response = call_back_all(make_app, ehr, fhir_max_pages="60", fhir_timeout_seconds="60")
    assert response.status_code == 200 and lab_pages(ehr) == 58


def test_immunizations_cut_short_are_said(make_app):
    """Immunizations past the page cap on a server that does not sort: DATA-02 says so (the live-vaccine check may
    not have seen the newest)."""
    flu = {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]}
    shots = [{"resourceType": "Immunization", "id": f"flu-{n}", "status": "completed", "vaccineCode": flu,
              "occurrenceDateTime": day(30 * n)} for n in range(120)]  # fmt: skip
    orders = [med_request("aza", AZATHIOPRINE, authored=day(3000)[:10])]
    ehr = InMemoryFhirServer(PATIENT, orders + history(years=1, per_month=2) + shots, honours_sort=False)
    response = call_back_all(make_app, ehr, fhir_max_pages="2")
    notice = next(c for c in response.get_json()["cards"] if c["source"]["topic"]["code"] == "DATA-02")
    assert "immunizations: results beyond 2 pages were not fetched" in notice["detail"]
