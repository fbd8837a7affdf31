"""Read Observations (labs, weight), Conditions, AllergyIntolerances and the Patient into record entries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from service.fhir.prefetch import result_day
from service.fhir.values import as_dict, as_dicts, as_text
from service.knowledge import KnowledgePack
from service.record.dates import first_datetime, parse_fhir_datetime
from service.record.model import CodedEntry, LabResult, is_current_status
from service.terminology import Terminology, convert


def read_observations(
    observations: Iterable[dict], terminology: Terminology, pack: KnowledgePack, since: str | None = None
) -> list[LabResult]:
    """Every result whose code is in a lab value set, including panel components, with canonical units. Results
    dated before `since` ("YYYY-MM-DD", the start of the rules' look-back) are not parsed at all."""
    results = []
    for observation in observations:
        if since and "" < result_day(observation) < since:
            continue
        parts = [observation, *as_dicts(observation["component"])] if observation.get("component") else [observation]
        found = [(part, hit) for part in parts if (hit := _lab_code(part, terminology))]
        if not found:
            continue  # most results of a long record: not a lab any rule reads, so no date is parsed
        effective = effective_time(observation)
        status = observation.get("status") if isinstance(observation.get("status"), str) else "unknown"
        results += [_read_result(part, hit, terminology, pack, effective, status) for part, hit in found]
    return results


def _lab_code(part: dict, terminology: Terminology) -> tuple[str, str] | None:
    """(analyte, code) when the part's code is a lab concept of the pack read for a value or a qualitative result."""
    code = part.get("code")
    hit = terminology.code_match(as_dicts(code.get("coding"))) if isinstance(code, dict) else None
    if hit is None or (hit[0] not in terminology.unit_factors and hit[0] not in terminology.qualitative):
        return None  # not in the pack, or a code the pack knows but not as a lab value (e.g. a genomic result)
    return hit


def _read_result(part: dict, hit, terminology: Terminology, pack: KnowledgePack, effective, status) -> LabResult:
    analyte, loinc = hit
    factors = terminology.unit_factors.get(analyte)
    quantity = part.get("valueQuantity")
    ranges = as_dicts(part.get("referenceRange"))
    high = ranges[0].get("high") if ranges else None
    low = ranges[0].get("low") if ranges else None
    return LabResult(
        analyte,
        loinc,
        _quantity(quantity, factors) if isinstance(quantity, dict) and factors else None,
        pack.concepts[analyte].unit,
        effective,
        status,
        _qualitative(part) if analyte in terminology.qualitative else "",
        _quantity(high, factors) if isinstance(high, dict) and factors else None,
        _quantity(low, factors) if isinstance(low, dict) and factors else None,
    )


def _quantity(quantity: dict, factors: dict[str, float]) -> float | None:
    """A Quantity in the canonical unit, trying its UCUM code and then its human unit."""
    value = quantity.get("value")
    for unit in (quantity.get("code"), quantity.get("unit")):
        if isinstance(unit, str) or "" in factors:  # a unitless INR
            converted = convert(value, unit, factors)
            if converted is not None:
                return converted
    return None


def _qualitative(part: dict) -> str:
    concept = as_dict(part.get("valueCodeableConcept"))
    texts = [as_text(concept.get("text")), *(as_text(c.get("display")) for c in as_dicts(concept.get("coding")))]
    return " ".join(filter(None, [*texts, as_text(part.get("valueString"))])).lower()


def read_coded_entries(
    resources: Iterable[dict], terminology: Terminology, code_field: str = "code", current_only: bool = False
) -> list[CodedEntry]:
    """Conditions, AllergyIntolerances (`code`) or Immunizations (`vaccineCode`) with the concepts they match.
    `current_only`: entries whose status says they are not current are left out before any code is read (rules
    read only current conditions and allergies; a long record is mostly resolved ones)."""
    entries = []
    for resource in resources:
        status = _status_code(resource.get("clinicalStatus")) or as_text(resource.get("status"))
        verification = _status_code(resource.get("verificationStatus"))
        ended = any(key.startswith("abatement") for key in resource)  # any version's abatement[x]
        if current_only and not is_current_status(status, verification, ended):
            continue
        code = as_dict(resource.get(code_field))
        extra = [
            as_text(c.get("display")) or as_text(c.get("text"))
            for reaction in as_dicts(resource.get("reaction"))
            for c in as_dicts([reaction.get("substance")])
        ]
        match = terminology.match_entry(code, extra_text=[e for e in extra if e])
        period = as_dict(resource.get("onsetPeriod"))
        entries.append(
            CodedEntry(
                concepts=match.concepts if match else frozenset(),
                text=as_text(code.get("text")) or _first_display(code),
                status=status,
                verification=verification,
                when=first_datetime(
                    resource.get("onsetDateTime"),
                    period.get("start"),
                    resource.get("occurrenceDateTime"),
                    resource.get("date"),
                    resource.get("recordedDate"),
                ),
                ended=ended,
                code_label=match.code_label if match else "",
                history=match.history if match else frozenset(),
            )
        )
    return entries


def current_concepts(entry: CodedEntry, pack: KnowledgePack, now: datetime) -> frozenset[str]:
    """The concepts a condition entry counts as current for: its status says current, a history counts only for
    concepts that say so, and a time-bound concept only within its window (an undated entry is given the benefit
    of the doubt; the card then says that no date was recorded)."""
    if not entry.is_current:
        return frozenset()
    kept = set()
    for concept_id in entry.concepts:
        concept = pack.concepts[concept_id]
        if concept_id in entry.history and not concept.history_counts:
            continue
        window = concept.current_for_days
        if window and entry.when and now - entry.when > timedelta(days=window):
            continue
        kept.add(concept_id)
    return frozenset(kept)


def _first_display(code: dict) -> str:
    displays = [as_text(c.get("display")) for c in as_dicts(code.get("coding"))]
    return next((d for d in displays if d), "")


def _status_code(status: object) -> str:
    """R4 CodeableConcept status, or the plain code string of STU3/DSTU2."""
    if isinstance(status, str):
        return status
    if isinstance(status, dict):
        codes = [c.get("code") for c in as_dicts(status.get("coding"))]
        return next((c for c in codes if isinstance(c, str)), "")
    return ""


def effective_time(observation: dict):
    when = parse_fhir_datetime(observation.get("effectiveDateTime"))  # how nearly every result is dated
    if when:
        return when
    period = as_dict(observation.get("effectivePeriod"))
    return first_datetime(
        observation.get("effectiveDateTime"),
        observation.get("effectiveInstant"),
        period.get("start"),
        observation.get("issued"),
    )
