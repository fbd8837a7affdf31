"""Read medication orders and statements (R4, STU3, DSTU2 MedicationOrder) into MedicationUse, leniently."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.errors import PatientDataError
from service.fhir.values import as_dict, as_dicts, as_text
from service.record.daily_dose import DailyDose, Wording, daily_dose
from service.record.dates import first_datetime
from service.record.model import MedicationUse
from service.terminology import Match, Terminology

MEDICATION_TYPES = frozenset({"MedicationRequest", "MedicationOrder", "MedicationStatement"})
NOT_CHECKED = DailyDose()  # not a drug the rules check (shared: a DailyDose is immutable)


class Unreadable(PatientDataError):
    """A medication resource the rules cannot use; the message says why, in the pack's words, for an info card."""


class NoMedicationYet(Unreadable):
    """A medication resource that names no medication at all: for a draft, one still being filled in (the CDS
    Hooks sandbox's Rx View opens with such a draft), which is not a data-quality problem."""


@dataclass(frozen=True)
class MedicationIndex:
    """Medication resources sent alongside the orders (Bundle entries), by "Medication/<id>"."""

    by_reference: dict[str, dict]

    @classmethod
    def from_resources(cls, resources: Iterable[dict]) -> MedicationIndex:
        return cls(
            {
                f"Medication/{resource['id']}": resource
                for resource in resources
                if resource.get("resourceType") == "Medication" and isinstance(resource.get("id"), str)
            }
        )


def read_medication(
    resource: dict,
    index: MedicationIndex,
    terminology: Terminology,
    now: datetime,
    wording: Wording,
    *,
    is_draft: bool = False,
    is_selected: bool = False,
    known_only: bool = False,
) -> MedicationUse | None:
    """Recognise one medication resource; raise Unreadable when it names no medication at all. `known_only`: None
    for a medication the pack does not know (on file, nothing reads it; a long record holds hundreds)."""
    resource_type = resource["resourceType"]
    resource_id = resource.get("id") if isinstance(resource.get("id"), str) else None
    reference = (
        f"{resource_type}/{resource_id}" if resource_id else wording("record-without-id", resource_type=resource_type)
    )
    match, label = _identify(resource, index, terminology, reference, wording, known_only)
    if match is None and known_only:
        return None
    status = resource.get("status")
    strength = match.strength_mg if match else None
    # Dose and indication matter only for drugs the pack knows; skip the work for everything else.
    reasons = [terminology.match(reason) for reason in as_dicts(resource.get("reasonCode"))] if match else []
    return MedicationUse(
        reference=reference,
        resource_type=resource_type,
        resource_id=resource_id,
        status=status if isinstance(status, str) else "unknown",
        concepts=match.concepts if match else frozenset(),
        label=label,
        evidence=_evidence(match, wording),
        start=(start := _start(resource)),
        is_draft=is_draft,
        is_selected=is_selected,
        unverified_code=bool(match and match.unverified),
        strength_mg=strength,
        dose=daily_dose(resource, strength, now, wording) if match else NOT_CHECKED,
        reasons=frozenset().union(*(reason.concepts for reason in reasons if reason)),
        supply_end=supply_end(resource, start) if match else None,
        prior=_prior(resource),
    )


SUPPLY_DAYS = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7, "mo": 30, "month": 30, "months": 30}


def supply_end(resource: dict, start: datetime | None) -> datetime | None:
    """When the order's supply runs out: the end of its validity period, or its start plus the expected supply
    duration times (1 + repeats allowed); a statement's effective period end."""
    period = as_dict(resource.get("effectivePeriod"))
    dispense = as_dict(resource.get("dispenseRequest"))
    validity = as_dict(dispense.get("validityPeriod"))
    end = first_datetime(validity.get("end"), period.get("end"))
    if end:
        return end
    duration = as_dict(dispense.get("expectedSupplyDuration"))
    value, unit = duration.get("value"), str(duration.get("code") or duration.get("unit") or "").lower()
    repeats = dispense.get("numberOfRepeatsAllowed", 0)
    if start is None or not isinstance(value, int | float) or unit not in SUPPLY_DAYS or value <= 0:
        return None
    repeats = repeats if isinstance(repeats, int) and 0 <= repeats <= 100 else 0
    return start + timedelta(days=min(value * SUPPLY_DAYS[unit] * (1 + repeats), 3650))


def _prior(resource: dict) -> str | None:
    pointer = resource.get("priorPrescription")
    target = pointer.get("reference") if isinstance(pointer, dict) else None
    if not isinstance(target, str) or "/" not in target:
        return None
    parts = target.split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:])


def _evidence(match: Match | None, wording: Wording) -> str:
    """How the drug was recognised, for the basis line of a card."""
    if match is None:
        return ""
    return wording("record-code-unverified", evidence=match.evidence) if match.unverified else match.evidence


def _identify(
    resource: dict,
    index: MedicationIndex,
    terminology: Terminology,
    reference: str,
    wording: Wording,
    known_only: bool = False,
) -> tuple[Match | None, str]:
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict) and (concept.get("coding") or concept.get("text")):
        match = terminology.match(concept)
        return match, (_label(concept) or reference) if match or not known_only else ""
    pointer = resource.get("medicationReference")
    if not isinstance(pointer, dict) or not (pointer.get("reference") or pointer.get("display")):
        raise NoMedicationYet(wording("record-names-no-medication", reference=reference))
    display = as_text(pointer.get("display"))
    medication = _resolve(pointer.get("reference"), resource, index)
    if medication is None:
        if display:
            return terminology.match({}, extra_text=[display]), display
        raise Unreadable(wording("record-medication-not-sent", reference=reference, target=pointer.get("reference")))
    return _match_medication(medication, terminology, display), _label(medication.get("code")) or display or reference


def _match_medication(medication: dict, terminology: Terminology, display: str) -> Match | None:
    """A Medication's own code, else its ingredients (R4/STU3 `ingredient`, DSTU2 `product.ingredient`)."""
    found = terminology.match(medication.get("code"), extra_text=[display] if display else [])
    if found:
        strength = found.strength_mg or _ingredient_strength(medication)
        return Match(found.concepts, found.evidence, strength, found.unverified)
    product = as_dict(medication.get("product"))
    ingredients = as_dicts(medication.get("ingredient")) + as_dicts(product.get("ingredient"))
    matches = [
        terminology.match(item.get("itemCodeableConcept"), extra_text=_reference_display(item)) for item in ingredients
    ]
    found_ingredients = [m for m in matches if m is not None]
    if not found_ingredients:
        return None
    return Match(
        concepts=frozenset().union(*(m.concepts for m in found_ingredients)),
        evidence="ingredient " + ", ".join(m.evidence for m in found_ingredients),
        unverified=all(m.unverified for m in found_ingredients),
    )


def _ingredient_strength(medication: dict) -> float | None:
    """mg per unit from a single ingredient's strength Ratio, e.g. 50 mg / 1 TAB."""
    ingredients = as_dicts(medication.get("ingredient"))
    if len(ingredients) != 1 or not isinstance(ingredients[0].get("strength"), dict):
        return None
    numerator = ingredients[0]["strength"].get("numerator") or {}
    denominator = ingredients[0]["strength"].get("denominator") or {}
    unit = str(numerator.get("code") or numerator.get("unit") or "").lower()
    value, per = numerator.get("value"), denominator.get("value", 1)
    if unit != "mg" or not isinstance(value, int | float) or per != 1:
        return None
    return float(value)


def _resolve(target: object, resource: dict, index: MedicationIndex) -> dict | None:
    if not isinstance(target, str) or not target:
        return None
    if target.startswith("#"):
        return next((c for c in as_dicts(resource.get("contained")) if c.get("id") == target[1:]), None)
    parts = target.split("/_history/")[0].rstrip("/").split("/")
    return index.by_reference.get("/".join(parts[-2:])) if len(parts) >= 2 else None


def _start(resource: dict):
    period = as_dict(resource.get("effectivePeriod"))
    return first_datetime(
        resource.get("authoredOn"),  # R4/STU3 MedicationRequest
        resource.get("dateWritten"),  # DSTU2 MedicationOrder
        resource.get("effectiveDateTime"),  # MedicationStatement
        period.get("start"),
        resource.get("dateAsserted"),
    )


def _label(concept: object) -> str:
    if not isinstance(concept, dict):
        return ""
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return concept["text"].strip()
    displays = [c.get("display") for c in as_dicts(concept.get("coding"))]
    return next((d.strip() for d in displays if isinstance(d, str) and d.strip()), "")


def _reference_display(item: dict) -> list[str]:
    for key in ("itemReference", "item"):
        pointer = item.get(key)
        if isinstance(pointer, dict) and isinstance(pointer.get("display"), str):
            return [pointer["display"]]
    return []
