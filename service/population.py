"""A population of FHIR patient bundles (e.g. Synthea output) turned into the hook calls an EHR would send.

Each bundle file holds one patient's record. An in-memory FHIR server answers the service's prefetch templates
from it, and two calls are built per patient: a chart opening (patient-view) and,
for a patient with an azathioprine order, an order-sign renewal of the latest one.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from service.errors import ToolError
from service.fhir import FhirClient, PatientData, PrefetchKey
from service.fhir.memory_server import InMemoryFhirServer
from service.knowledge import KnowledgePack
from service.protocol.call import HookCall
from service.record.dates import parse_fhir_datetime
from service.terminology import Terminology

WEIGHT_CODE = "29463-7"
# Typical adult values and ranges in each analyte's canonical unit, for `--current-monitoring`: synthetic test data
# that makes a population's monitoring current and normal, not clinical reference values (no rule reads them). A
# patient's own latest value is carried forward brought into the range, so that the added results jump as little as
# possible from the patient's own; a patient whose last count was abnormal gets a normal one (the report then
# measures a well-monitored, stable population, not these patients' real state: run without the option for that).
NORMAL_RESULTS = {
    "wbc": (6.5, 4.0, 11.0), "neutrophils": (4.0, 2.0, 7.5), "lymphocytes": (1.8, 1.0, 4.0),
    "platelets": (250.0, 150.0, 400.0), "hemoglobin": (140.0, 120.0, 170.0), "mcv": (90.0, 80.0, 100.0),
    "alt": (22.0, 7.0, 40.0), "ast": (24.0, 8.0, 40.0), "alp": (80.0, 30.0, 130.0), "bilirubin": (9.0, 3.0, 20.0),
    "albumin": (42.0, 35.0, 50.0), "creatinine": (75.0, 45.0, 110.0), "egfr": (92.0, 60.0, 120.0),
}  # fmt: skip
MONITORING_DAYS_AGO = (40, 10)
UNDATED = datetime(1, 1, 1, tzinfo=UTC)


class NotABundle(ToolError, ValueError):
    """A file that is not a FHIR Bundle with a Patient in it."""


@dataclass(frozen=True)
class PatientFile:
    path: Path
    patient: dict
    resources: list[dict]  # every resource of the bundle except the Patient

    @property
    def patient_id(self) -> str:
        return self.patient.get("id") or self.path.stem


def read_patient_file(path: Path) -> PatientFile:
    try:
        bundle = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise NotABundle(f"not JSON: {error}") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise NotABundle("not a FHIR Bundle")
    resources = [
        e["resource"] for e in bundle.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise NotABundle(
            f"holds {len(patients)} Patient resources, not one (hospital and practitioner files are skipped)"
        )
    return PatientFile(path, patients[0], [r for r in resources if r is not patients[0]])


def prefetch_bytes(record: PatientFile, keys: Mapping[str, PrefetchKey], now: datetime, whole: bool) -> int:
    """The bytes an EHR sends for these keys: every page in one Bundle (`whole`), or page by page as far as the
    service reads them (the first page in the prefetch, the `next` pages it calls back for)."""
    server = InMemoryFhirServer(record.patient | {"id": record.patient_id}, record.resources)
    context = {"userId": "Practitioner/burden", "patientId": record.patient_id}
    pages = server.prefetch({name: key.template for name, key in keys.items()}, context, whole)
    if not whole:  # the service's own reading of the pages (PatientData), call-backs answered by the same server
        body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": server.base_url,
                "context": context, "prefetch": pages}  # fmt: skip
        call = HookCall.from_request("burden", "patient-view", body)
        data = PatientData(call, keys, FhirClient((server.base_url,), transport=server.transport()), now)
        for name in keys:
            data.resources(name)
    return len(orjson.dumps(pages)) + server.bytes_served


def prefetch(record: PatientFile, templates: dict[str, str]) -> dict:
    """The prefetch keys as an EHR would fill them from this record by the service's templates (every page in one
    searchset Bundle)."""
    server = InMemoryFhirServer(record.patient | {"id": record.patient_id}, record.resources)
    return server.prefetch(templates, {"patientId": record.patient_id}, whole=True)


def add_current_monitoring(
    record: PatientFile, pack: KnowledgePack, terminology: Terminology, now: datetime
) -> PatientFile:
    """The record with normal CBC, liver and renal results and a weight 40 and 10 days before `now` (for measuring
    the alert burden of a well-monitored population)."""
    kg = _latest_weight(record) or 70.0
    own = _latest_values(record, pack, terminology, now)
    added = []
    for days in MONITORING_DAYS_AGO:
        when = (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for analyte, (typical, low, high) in NORMAL_RESULTS.items():
            value = min(max(own.get(analyte, typical), low), high)
            added.append(_observation(pack, analyte, round(value, 2), when, "laboratory"))
        added.append(_observation(pack, "body-weight", kg, when, "vital-signs"))
    return PatientFile(record.path, record.patient, record.resources + added)


def azathioprine_orders(record: PatientFile, pack: KnowledgePack, terminology: Terminology) -> list[dict]:
    """The record's MedicationRequests for a focus drug of the pack, oldest first."""
    orders = [
        r for r in record.resources
        if r.get("resourceType") == "MedicationRequest" and _is_focus_drug(r, pack, terminology)
    ]  # fmt: skip
    return sorted(orders, key=lambda r: parse_fhir_datetime(r.get("authoredOn")) or UNDATED)


def is_deceased(record: PatientFile, now: datetime) -> bool:
    died = parse_fhir_datetime(record.patient.get("deceasedDateTime"))
    return record.patient.get("deceasedBoolean") is True or bool(died and died <= now)


def patient_view(record: PatientFile, body_prefetch: dict) -> dict:
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/burden", "patientId": record.patient_id},
        "prefetch": body_prefetch,
    }


def renewal(record: PatientFile, body_prefetch: dict, previous: dict, now: datetime) -> dict:
    """An order-sign call renewing `previous` unchanged: a new draft that names it as its priorPrescription."""
    draft = copy.deepcopy(previous)
    draft.update(id=f"renewal-{uuid.uuid4().hex[:12]}", status="draft", authoredOn=now.strftime("%Y-%m-%d"))
    draft.pop("encounter", None)
    draft["priorPrescription"] = {"reference": f"MedicationRequest/{previous.get('id')}"}
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": "order-sign",
        "context": {
            "userId": "Practitioner/burden",
            "patientId": record.patient_id,
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]},
        },
        "prefetch": body_prefetch,
    }


def _is_focus_drug(resource: dict, pack: KnowledgePack, terminology: Terminology) -> bool:
    found = terminology.match(resource.get("medicationCodeableConcept"))
    return bool(found and found.concepts & pack.focus_drugs)


def _observation(pack: KnowledgePack, analyte: str, value: float, when: str, category: str) -> dict:
    concept = pack.concepts[analyte]
    code = concept.codes[0]
    return {
        "resourceType": "Observation",
        "id": f"current-{uuid.uuid4().hex[:12]}",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": category}]}],
        "code": {"coding": [{"system": code.system, "code": code.code}], "text": concept.display},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": concept.unit, "system": "http://unitsofmeasure.org",
                          "code": concept.unit},
    }  # fmt: skip


def _latest_values(
    record: PatientFile, pack: KnowledgePack, terminology: Terminology, now: datetime
) -> dict[str, float]:
    """Each analyte's latest value before `now`, in the canonical unit, as the service reads it."""
    from service.record.clinical import read_observations  # the record layer is only needed for this option

    observations = [r for r in record.resources if r.get("resourceType") == "Observation"]
    latest: dict[str, tuple[datetime, float]] = {}
    for result in read_observations(observations, terminology, pack):
        if result.value is None or result.effective is None or result.effective > now:
            continue
        if result.analyte not in latest or result.effective > latest[result.analyte][0]:
            latest[result.analyte] = (result.effective, result.value)
    return {analyte: value for analyte, (_, value) in latest.items()}


def _latest_weight(record: PatientFile) -> float | None:
    weights = [
        (parse_fhir_datetime(o.get("effectiveDateTime")), o.get("valueQuantity", {}))
        for o in record.resources
        if o.get("resourceType") == "Observation" and _has_code(o, WEIGHT_CODE)
    ]
    dated = [(when, q) for when, q in weights if when and q.get("unit") in ("kg", None) and q.get("value")]
    return float(max(dated, key=lambda pair: pair[0])[1]["value"]) if dated else None


def _codings(concept: object) -> Iterator[dict]:
    if isinstance(concept, dict):
        yield from (c for c in concept.get("coding") or [] if isinstance(c, dict))


def _has_code(observation: dict, code: str) -> bool:
    return any(c.get("code") == code for c in _codings(observation.get("code")))
