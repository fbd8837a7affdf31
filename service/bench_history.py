"""`aza-cds bench`'s long histories: a patient's 20 years shaped like a real EHR's answer, asked for through the broad
templates of old and the narrow ones derived from the pack, and how one call scales with the size of the record.

The record: yearly check-up panels (CBC, metabolic, lipids, HbA1c, TSH, urinalysis) over 20 years, IBD clinic visits
(CRP, calprotectin, ferritin, vital signs), and 8 years of azathioprine with CBC and metabolic panels at the interval
that gives the number of results asked for; conditions (chronic ones active, acute ones resolved), orders (three-
monthly azathioprine and mesalamine renewals, steroid and antibiotic courses) and yearly influenza shots. Resources
carry what EHRs send (ids, profiles, codings with displays, encounters, reference ranges), about 1 KB a result.
The newest neutrophil count is low, so that every case answers with a card to compare between the templates.
"""

from __future__ import annotations

import random
import statistics
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from service.bench_apps import aza_in_process, timings
from service.fhir import PatientData
from service.fhir.memory_server import InMemoryFhirServer
from service.hooks.templates import prefetch_keys
from service.http.memory import collection_paused
from service.http.state import state_of
from service.knowledge import KnowledgePack
from service.protocol.call import HookCall

LOINC, SNOMED, RXNORM = "http://loinc.org", "http://snomed.info/sct", "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
EHR = "https://ehr.example/fhir"
# (code, display, unit, typical value, low, high); the codes of a real CBC with differential and a metabolic panel
CBC = [("6690-2", "Leukocytes [#/volume] in Blood", "10*3/uL", 6.2, 4.0, 11.0),
       ("789-8", "Erythrocytes [#/volume] in Blood", "10*6/uL", 4.6, 3.9, 5.7),
       ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 13.8, 12.0, 17.0),
       ("4544-3", "Hematocrit [Volume Fraction] of Blood", "%", 41.0, 36.0, 50.0),
       ("787-2", "MCV [Entitic volume]", "fL", 90.0, 80.0, 100.0),
       ("785-6", "MCH [Entitic mass]", "pg", 30.0, 27.0, 33.0),
       ("786-4", "MCHC [Mass/volume]", "g/dL", 33.5, 32.0, 36.0),
       ("788-0", "Erythrocyte distribution width", "%", 13.0, 11.5, 14.5),
       ("777-3", "Platelets [#/volume] in Blood", "10*3/uL", 260.0, 150.0, 400.0),
       ("751-8", "Neutrophils [#/volume] in Blood", "10*3/uL", 3.9, 2.0, 7.5),
       ("731-0", "Lymphocytes [#/volume] in Blood", "10*3/uL", 1.8, 1.0, 4.0)]  # fmt: skip
METABOLIC = [("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 92.0, 70.0, 99.0),
             ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 14.0, 7.0, 20.0),
             ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.85, 0.6, 1.1),
             ("98979-8", "eGFR (CKD-EPI 2021)", "mL/min/{1.73_m2}", 95.0, 60.0, 120.0),
             ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 140.0, 135.0, 145.0),
             ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 4.2, 3.5, 5.1),
             ("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", 103.0, 98.0, 107.0),
             ("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L", 25.0, 22.0, 29.0),
             ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 9.4, 8.6, 10.3),
             ("2885-2", "Protein [Mass/volume] in Serum or Plasma", "g/dL", 7.0, 6.0, 8.3),
             ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 4.3, 3.5, 5.0),
             ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 0.1, 1.2),
             ("6768-6", "Alkaline phosphatase [U/volume] in Serum", "U/L", 75.0, 40.0, 129.0),
             ("1742-6", "ALT [U/volume] in Serum or Plasma", "U/L", 22.0, 7.0, 40.0),
             ("1920-8", "AST [U/volume] in Serum or Plasma", "U/L", 24.0, 8.0, 40.0)]  # fmt: skip
YEARLY = [("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 185.0, 0.0, 200.0),
          ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 120.0, 0.0, 150.0),
          ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 55.0, 40.0, 100.0),
          ("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "mg/dL", 105.0, 0.0, 130.0),
          ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 5.4, 4.0, 5.6),
          ("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", 1.9, 0.4, 4.0),
          ("5811-5", "Specific gravity of Urine by Test strip", "1", 1.015, 1.005, 1.03),
          ("5803-2", "pH of Urine by Test strip", "[pH]", 6.0, 5.0, 8.0)]  # fmt: skip
IBD_VISIT = [("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", 4.0, 0.0, 5.0),
             ("38445-3", "Calprotectin [Mass/mass] in Stool", "ug/g", 80.0, 0.0, 50.0),
             ("2276-4", "Ferritin [Mass/volume] in Serum or Plasma", "ng/mL", 60.0, 15.0, 150.0)]  # fmt: skip
VITALS = [("29463-7", "Body weight", "kg", 68.0), ("8302-2", "Body height", "cm", 168.0),
          ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 24.1), ("8867-4", "Heart rate", "/min", 72.0),
          ("8480-6", "Systolic blood pressure", "mm[Hg]", 122.0),
          ("8462-4", "Diastolic blood pressure", "mm[Hg]", 78.0)]  # fmt: skip
CHRONIC = [("34000006", "Crohn's disease"), ("38341003", "Hypertensive disorder"), ("55822004", "Hyperlipidemia"),
           ("195967001", "Asthma"), ("35489007", "Depressive disorder")]  # fmt: skip
ACUTE = [("444814009", "Viral sinusitis"), ("10509002", "Acute bronchitis"), ("195662009", "Acute viral pharyngitis"),
         ("68566005", "Urinary tract infectious disease"), ("314529007", "Medication review due"),
         ("62106007", "Concussion with no loss of consciousness"), ("283371005", "Laceration of forearm")]  # fmt: skip
COURSES = [("197388", "azathioprine 50 MG Oral Tablet"), ("1442019", "mesalamine 1200 MG Delayed Release Oral Tablet"),
           ("312617", "prednisone 5 MG Oral Tablet"), ("308182", "amoxicillin 250 MG Oral Capsule"),
           ("314076", "lisinopril 10 MG Oral Tablet")]  # fmt: skip
SUPPLY_90_DAYS = {"value": 90, "unit": "days", "system": UCUM, "code": "d"}
AZATHIOPRINE_YEARS = 8
SIZES = {  # observations, conditions, orders: about 1 MB (a Synthea IBD patient) and about 4 MB
    "synthea-sized": (900, 150, 80),
    "20 years, dense": (3800, 300, 300),
}


class LongHistory:
    """One patient's record, deterministic for a seed, dated back from `now`."""

    def __init__(
        self, observations: int, conditions: int, orders: int, now: datetime, seed: int = 20, span_days: int = 0
    ):
        self.now = now
        self._span = span_days  # > 0: every date folded into the last `span_days` (all of it within the look-back)
        self._random = random.Random(seed)
        self.patient_id = "long-history"
        self.patient = {"resourceType": "Patient", "id": self.patient_id, "birthDate": "1968-04-12", "gender": "female",
                        "name": [{"family": "Bench", "given": ["Long"]}]}  # fmt: skip
        self._subject = {"reference": f"Patient/{self.patient_id}"}
        self.resources = self._observations(observations) + self._conditions(conditions) + self._orders(orders)
        self.resources += [self._immunization(year) for year in range(20 if not span_days else 0)]

    def _id(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def _day(self, days_ago: float) -> str:
        days_ago = days_ago % self._span if self._span else days_ago
        return (self.now - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _observations(self, wanted: int) -> list[dict]:
        years = 20
        draws = [(365.0 * y + 30, CBC + METABOLIC + YEARLY, "laboratory") for y in range(years)]
        draws += [(120.0 * v + 60, IBD_VISIT, "laboratory") for v in range(years * 3)]
        vitals = [(120.0 * v + 60, VITALS) for v in range(years * 3)]
        base = sum(len(panel) for _, panel, _ in draws) + sum(len(panel) for _, panel in vitals)
        monitoring = max(0, (wanted - base) // len(CBC + METABOLIC))
        every = AZATHIOPRINE_YEARS * 365 / monitoring if monitoring else 0
        draws += [(3 + every * d, CBC + METABOLIC, "laboratory") for d in range(monitoring)]
        found = [self._lab(days, row, "laboratory") for days, panel, _ in draws for row in panel]
        found += [self._vital(days, row) for days, panel in vitals for row in panel]
        self._random.shuffle(found)  # a store keeps them in no order
        found = found[:wanted]
        neutrophils = [o for o in found if o["code"]["coding"][0]["code"] == "751-8"]
        if neutrophils and not self._span:  # the newest count low: a card to compare (MON-03, below 1.6 x10^9/L)
            max(neutrophils, key=lambda o: o["effectiveDateTime"])["valueQuantity"]["value"] = 1.2
        return found

    def _lab(self, days_ago: float, row: tuple, category: str) -> dict:
        code, display, unit, typical, low, high = row
        value = round(typical * self._random.uniform(0.9, 1.1), 2)
        encounter = {"reference": f"Encounter/{self._id()}"}
        quantity = lambda v: {"value": v, "unit": unit, "system": UCUM, "code": unit}  # noqa: E731
        return {
            "resourceType": "Observation", "id": self._id(),
            "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"]},
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": category, "display": category.title()}]}],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
            "subject": self._subject, "encounter": encounter,
            "effectiveDateTime": self._day(days_ago), "issued": self._day(days_ago - 0.2).replace("Z", ".000Z"),
            "valueQuantity": quantity(value),
            "referenceRange": [{"low": quantity(low), "high": quantity(high)}],
        }  # fmt: skip

    def _vital(self, days_ago: float, row: tuple) -> dict:
        code, display, unit, typical = row
        vital = self._lab(days_ago, (code, display, unit, typical, 0.0, 0.0), "vital-signs")
        del vital["referenceRange"]
        vital["meta"]["profile"] = ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]
        return vital

    def _conditions(self, count: int) -> list[dict]:
        found = []
        for index in range(count):
            chronic = index < len(CHRONIC)
            code, display = CHRONIC[index] if chronic else ACUTE[index % len(ACUTE)]
            onset = self._random.uniform(30, 7000)
            status = "active" if chronic or index % 3 == 0 else "resolved"
            condition = {
                "resourceType": "Condition", "id": self._id(),
                "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-encounter-diagnosis"]},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                               "code": status}]},
                "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                                   "code": "confirmed"}]},
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                          "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}]}],
                "code": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display},
                "subject": self._subject, "encounter": {"reference": f"Encounter/{self._id()}"},
                "onsetDateTime": self._day(onset), "recordedDate": self._day(onset),
            }  # fmt: skip
            if status == "resolved":
                condition["abatementDateTime"] = self._day(max(1.0, onset - 14))
            found.append(condition)
        return found

    def _orders(self, count: int) -> list[dict]:
        renewals = [(90.0 * r + 20, COURSES[r % 2]) for r in range(AZATHIOPRINE_YEARS * 4 * 2)]
        others = [(self._random.uniform(30, 7000), COURSES[2 + i % 3]) for i in range(max(0, count - len(renewals)))]
        found = []
        for days_ago, (code, display) in sorted(renewals + others)[:count]:
            latest = days_ago < 110 and code in ("197388", "1442019")
            found.append({
                "resourceType": "MedicationRequest", "id": self._id(),
                "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-medicationrequest"]},
                "status": "active" if latest or code == "314076" else "stopped", "intent": "order",
                "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": display}],
                                              "text": display},
                "subject": self._subject, "encounter": {"reference": f"Encounter/{self._id()}"},
                "authoredOn": self._day(days_ago)[:10], "requester": {"reference": "Practitioner/1", "display": "Dr A"},
                "dosageInstruction": [{"text": "take as directed", "timing": {"code": {"coding": [{"code": "BID"}]}},
                                       "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet",
                                                                         "system": UCUM, "code": "{tbl}"}}]}],
                "dispenseRequest": {"numberOfRepeatsAllowed": 0, "expectedSupplyDuration": SUPPLY_90_DAYS},
            })  # fmt: skip
        return found

    def _immunization(self, year: int) -> dict:
        return {"resourceType": "Immunization", "id": self._id(), "status": "completed",
                "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140",
                                            "display": "Influenza, seasonal, injectable, preservative free"}]},
                "patient": self._subject, "occurrenceDateTime": self._day(365.0 * year + 200),
                "primarySource": True}  # fmt: skip

    def renewal_request(self, templates: dict[str, str], whole: bool) -> tuple[dict, InMemoryFhirServer]:
        """An order-sign renewal of the latest azathioprine order, its prefetch filled from the templates."""
        server = InMemoryFhirServer(self.patient, self.resources, EHR)
        orders = [r for r in self.resources if r["resourceType"] == "MedicationRequest"]
        latest = max((r for r in orders if r["medicationCodeableConcept"]["coding"][0]["code"] == "197388"),
                     key=lambda r: r["authoredOn"])  # fmt: skip
        draft = latest | {"id": "renewal", "status": "draft", "authoredOn": self.now.date().isoformat(),
                          "priorPrescription": {"reference": f"MedicationRequest/{latest['id']}"}}  # fmt: skip
        drafts = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]}
        context = {"userId": "Practitioner/1", "patientId": self.patient_id, "draftOrders": drafts}
        request = {"hook": "order-sign", "hookInstance": str(uuid.UUID(int=self._random.getrandbits(128))),
                   "fhirServer": EHR, "context": context,
                   "prefetch": server.prefetch(templates, {"patientId": self.patient_id}, whole=whole)}  # fmt: skip
        return request, server


class RecordedTransport(httpx.BaseTransport):
    """The EHR's answers to the call-backs, serialised once: timings then measure our side of a call-back only."""

    def __init__(self, server: InMemoryFhirServer):
        self._live = server.transport()
        self._answers: dict[str, bytes] = {}
        self.bytes_served = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url not in self._answers:
            self._answers[url] = self._live.handle_request(request).read()
        self.bytes_served += len(self._answers[url])
        return httpx.Response(200, content=self._answers[url], headers={"Content-Type": "application/fhir+json"})


def slope(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares line through (resources, ms): ms per 1,000 resources, and the intercept in ms."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.mean(xs), statistics.mean(ys)
    gradient = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x in xs)
    return gradient * 1000, mean_y - gradient * mean_x


# The broad templates of old (every laboratory result, all of it in the prefetch) and the narrow default (by the
# pack's codes, newest first, a page of 100 in the prefetch and the rest by call-back to the horizon).
MODES = {
    "broad": ({"AZA_CDS_PREFETCH_LABS": "by-category"}, True),
    "narrow": ({}, False),
}
ROOMY = {"AZA_CDS_MAX_BODY_BYTES": "100000000", "AZA_CDS_MAX_PREFETCH_ENTRIES": "100000",
         "AZA_CDS_FHIR_ALLOWLIST": EHR, "AZA_CDS_FHIR_TIMEOUT_SECONDS": "30"}  # fmt: skip
SCALING_SIZES = (100, 500, 2000, 5000, 10000, 20000)
SCALING_SPAN_DAYS = 400


def _measured_call(pack: KnowledgePack, history: LongHistory, mode: str, runs: int) -> dict:
    settings, whole = MODES[mode]
    templates = {name: key.template for name, key in prefetch_keys(pack, *_modes(settings)).items()}
    request, server = history.renewal_request(templates, whole)
    raw = orjson.dumps(request)
    transport = RecordedTransport(server)
    client, app = aza_in_process(ROOMY | settings, fhir_transport=transport)
    url = "/cds-services/azathioprine-order-sign"
    post = lambda: client.post(url, data=raw, content_type="application/json")  # noqa: E731
    first = post()
    assert first.status_code == 200, first.get_json()
    transport.bytes_served = 0
    post()
    pipeline = state_of(app).pipeline

    def parse() -> None:
        with collection_paused():  # as the service parses (http/memory.py)
            call = HookCall.from_request("azathioprine-order-sign", "order-sign", orjson.loads(raw))
            now = datetime.now(UTC)
            pipeline._builder.build(call, PatientData(call, pipeline.prefetch, pipeline.fhir_client, now), now)  # noqa: SLF001

    return {
        "prefetch_bytes": len(raw),
        "call_back_bytes": transport.bytes_served,
        "resources": sum(len(v.get("entry", [])) for v in request["prefetch"].values() if isinstance(v, dict)),
        "parse_ms": timings(parse, runs, warmup=5),
        "total_ms": timings(post, runs, warmup=5),
        "cards": sorted(card["source"]["topic"]["code"] for card in first.get_json()["cards"]),
    }


def _modes(settings: dict) -> tuple[str, str]:
    return settings.get("AZA_CDS_PREFETCH_LABS", "by-code"), settings.get("AZA_CDS_PREFETCH_CONDITIONS", "all")


def long_history(pack: KnowledgePack, runs: int, progress) -> dict:
    """Each long-history size through the broad and the narrow templates: bytes, parse and total time, cards."""
    table = {}
    for size, counts in SIZES.items():
        history = LongHistory(*counts, now=datetime.now(UTC))
        for mode in MODES:
            progress(f"long history: {size}, {mode} templates")
            table[f"{size}/{mode}"] = _measured_call(pack, history, mode, runs)
    return table


def scaling(pack: KnowledgePack, runs: int, progress) -> dict:
    """One order-sign call with everything sent (the broad templates, no paging), from 100 to 20,000 resources:
    the median, the least-squares slope and intercept, and the largest size's time over the 2,000's."""
    points = []
    for total in SCALING_SIZES:
        progress(f"scaling: {total} resources")
        counts = int(total * 0.85), max(1, int(total * 0.08)), max(1, int(total * 0.07))
        history = LongHistory(*counts, datetime.now(UTC), span_days=SCALING_SPAN_DAYS)
        history.resources = history.resources[: total - 1]  # the Patient is the last one
        points.append((total, _measured_call(pack, history, "broad", max(5, runs // 10))["total_ms"]["median"]))
    per_thousand, intercept = slope(points)
    by_size = dict(points)
    return {
        "median_ms": by_size,
        "ms_per_1000_resources": per_thousand,
        "intercept_ms": intercept,
        "largest_over_2000": by_size[SCALING_SIZES[-1]] / by_size[2000],
    }
