"""Read Observations (labs, weight), Conditions, AllergyIntolerances and the Patient into record entries."""

from __future__ import annotations

from collections.abc import Iterable

from service.knowledge import KnowledgePack
from service.record.dates import first_datetime
from service.record.model import CodedEntry, LabResult
from service.terminology import Terminology, to_canonical


def read_observations(observations: Iterable[dict], terminology: Terminology, pack: KnowledgePack) -> list[LabResult]:
    """Every result whose code is in a lab value set, including panel components, with canonical units."""
    results = []
    for observation in observations:
        effective = _effective(observation)
        status = observation.get("status") if isinstance(observation.get("status"), str) else "unknown"
        parts = [observation, *_dicts(observation.get("component"))]
        for part in parts:
            result = _read_result(part, terminology, pack, effective, status)
            if result:
                results.append(result)
    return results


def _read_result(part: dict, terminology: Terminology, pack: KnowledgePack, effective, status) -> LabResult | None:
    code = part.get("code") if isinstance(part.get("code"), dict) else {}
    hit = terminology.code_match(_dicts(code.get("coding")))
    if hit is None or not pack.concepts[hit[0]].unit:
        return None
    analyte, loinc = hit
    canonical = pack.concepts[analyte].unit
    quantity = part.get("valueQuantity") if isinstance(part.get("valueQuantity"), dict) else {}
    unit = quantity.get("code") or quantity.get("unit")
    value = to_canonical(quantity.get("value"), unit if isinstance(unit, str) else None, canonical)
    if value is None and isinstance(quantity.get("unit"), str):
        value = to_canonical(quantity.get("value"), quantity["unit"], canonical)
    return LabResult(analyte=analyte, code=loinc, value=value, unit=canonical, effective=effective, status=status)


def read_coded_entries(resources: Iterable[dict]) -> list[CodedEntry]:
    entries = []
    for resource in resources:
        code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
        codes = frozenset(
            (coding["system"], coding["code"])
            for coding in _dicts(code.get("coding"))
            if isinstance(coding.get("system"), str) and isinstance(coding.get("code"), str)
        )
        entries.append(
            CodedEntry(
                codes=codes,
                text=code.get("text") if isinstance(code.get("text"), str) else "",
                clinical_status=_status_code(resource.get("clinicalStatus")),
            )
        )
    return entries


def _status_code(status: object) -> str:
    """R4 CodeableConcept status, or the plain code string of STU3/DSTU2."""
    if isinstance(status, str):
        return status
    if isinstance(status, dict):
        codes = [c.get("code") for c in _dicts(status.get("coding"))]
        return next((c for c in codes if isinstance(c, str)), "")
    return ""


def _effective(observation: dict):
    period = observation.get("effectivePeriod") if isinstance(observation.get("effectivePeriod"), dict) else {}
    return first_datetime(
        observation.get("effectiveDateTime"),
        observation.get("effectiveInstant"),
        period.get("start"),
        observation.get("issued"),
    )


def _dicts(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
