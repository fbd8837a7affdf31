"""Card suggestions. Resources in actions are built and validated with fhir.resources (FHIR R4 via R4B)."""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Callable

from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from service.knowledge import KnowledgePack, Rule
from service.knowledge.model import fill
from service.rules import Finding
from service.rules.findings import DoseChange

GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
DraftLookup = Callable[[int, str], dict | None]  # (position in draftOrders, reference) -> that draft, if it is that
UCUM = "http://unitsofmeasure.org"


def build_suggestions(
    rule: Rule, finding: Finding, pack: KnowledgePack, patient_id: str, drafts: DraftLookup
) -> list[dict]:
    suggestions = []
    for spec in rule.suggestions:
        if finding.variant not in spec.get("variants", [finding.variant]):
            continue
        if spec["action"] == "delete-draft" and not finding.draft_reference:
            continue  # no draft with an id to remove (patient-view, or a draft without id)
        if spec["action"] == "update-dose" and not finding.dose_change:
            continue
        label = fill(spec["label"], finding.values)
        actions = _actions(spec, finding, pack, patient_id, label, drafts)
        if not actions:
            continue
        suggestion: dict[str, object] = {"label": label, "uuid": str(uuid.uuid4()), "actions": actions}
        if spec.get("recommended"):
            suggestion["isRecommended"] = True
        suggestions.append(suggestion)
    return suggestions


def _actions(
    spec: dict,
    finding: Finding,
    pack: KnowledgePack,
    patient_id: str,
    label: str,
    drafts: DraftLookup,
) -> list[dict]:
    """The actions of one suggestion; CDS clients apply them together."""
    if spec["action"] == "update-dose":
        change = finding.dose_change
        draft = drafts(change.draft_position, change.draft_reference) if change else None
        resource = reduced_order(pack, change, draft, spec["round_down_to_mg"]) if change and draft else None
        return [{"type": "update", "description": label, "resource": resource}] if resource else []
    if spec["action"] == "delete-draft":
        return [{"type": "delete", "description": label, "resourceId": finding.draft_reference}]
    if spec["action"] == "order-lab":
        tests = [spec["order"], *spec.get("also_order", ())]
        return [
            {
                "type": "create",
                "description": pack.phrase("order-test", test=pack.concepts[test].display),
                "resource": lab_order(pack, test, patient_id, rule_id=finding.rule_id),
            }
            for test in tests
        ]
    raise ValueError(f"unknown suggestion action {spec['action']!r}")


def lab_order(pack: KnowledgePack, concept_id: str, patient_id: str, rule_id: str) -> dict:
    """A draft ServiceRequest for the test named by a pack concept."""
    concept = pack.concepts[concept_id]
    code = concept.codes[0]
    order = ServiceRequest.model_validate(
        {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "order",
            "code": {
                "coding": [{"system": code.system, "code": code.code, "display": concept.display}],
                "text": concept.display,
            },
            "subject": {"reference": f"Patient/{patient_id}"},
            "reasonCode": [{"text": pack.phrase("lab-order-reason", rule=rule_id)}],
        }
    )
    return order.model_dump(mode="json", exclude_none=True)


# MedicationRequest elements that R4 defines as lists (fhir.resources' model), which clients sometimes send as one
LIST_FIELDS = (
    "basedOn", "category", "contained", "detectedIssue", "eventHistory", "extension", "identifier",
    "instantiatesCanonical", "instantiatesUri", "insurance", "modifierExtension", "note", "reasonCode",
    "reasonReference", "supportingInformation",
)  # fmt: skip


def reduced_order(pack: KnowledgePack, change: DoseChange, draft: dict, step_mg: float) -> dict | None:
    """The draft MedicationRequest with its daily dose scaled by the change's factor, rounded down to `step_mg`
    (at least one step) and given once daily, which the azathioprine label allows. None for a draft that is not a
    valid R4 MedicationRequest or whose regimen has several lines (a taper: changing it is for the prescriber)."""
    lines = draft.get("dosageInstruction")
    if not isinstance(lines, list) or len(lines) != 1 or not isinstance(lines[0], dict):
        return None
    # Down to a whole step, with a tenth of a step's tolerance: "a third" of 150 mg is 50 mg, though 0.33 x 150 is 49.5.
    daily = max(step_mg, math.floor(change.daily_mg * change.factor / step_mg + 0.1) * step_mg)
    order = copy.deepcopy(draft)
    order.setdefault("intent", "order")  # drafts from the sandbox omit it; R4 requires it
    for name in LIST_FIELDS:  # the sandbox sends `category` as one object where R4 has a list: a list of one
        if isinstance(order.get(name), dict):
            order[name] = [order[name]]
    line = {
        key: value
        for key, value in order["dosageInstruction"][0].items()
        if key not in ("doseQuantity", "doseRange", "doseAndRate", "maxDosePerPeriod", "timing", "text")
    }
    line["text"] = pack.phrase("reduced-dose", daily=f"{daily:g}")
    line["timing"] = {
        "code": {"coding": [{"system": GTS, "code": "QD", "display": "QD"}], "text": pack.phrase("once-daily")}
    }
    line["doseAndRate"] = [{"doseQuantity": {"value": daily, "unit": "mg", "system": UCUM, "code": "mg"}}]
    order["dosageInstruction"] = [line]
    try:
        return MedicationRequest.model_validate(_pruned(order)).model_dump(mode="json", exclude_none=True)
    except (ValueError, KeyError, TypeError):  # the draft is not valid R4 (fhir.resources raises all three on junk):
        return None  # offer no update rather than an invalid one


def _pruned(value):
    """Drop null and empty values anywhere (CDS Hooks JSON allows none), as messy drafts can carry them."""
    if isinstance(value, dict):
        items = {key: _pruned(item) for key, item in value.items()}
        return {key: item for key, item in items.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        return [item for item in map(_pruned, value) if item not in (None, "", [], {})]
    return value
