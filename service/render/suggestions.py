"""Card suggestions. Resources in actions are built and validated with fhir.resources (FHIR R4 via R4B)."""

from __future__ import annotations

import uuid

from fhir.resources.R4B.servicerequest import ServiceRequest

from service.knowledge import KnowledgePack, Rule
from service.render.text import fill
from service.rules import Finding


def build_suggestions(rule: Rule, finding: Finding, pack: KnowledgePack, patient_id: str) -> list[dict]:
    suggestions = []
    for spec in rule.suggestions:
        if spec["action"] == "delete-draft" and not finding.draft_reference:
            continue  # no draft with an id to remove (patient-view, or a draft without id)
        label = fill(spec["label"], finding.values)
        action = _action(spec, finding, pack, patient_id, label)
        suggestion = {"label": label, "uuid": str(uuid.uuid4()), "actions": [action]}
        if spec.get("recommended"):
            suggestion["isRecommended"] = True
        suggestions.append(suggestion)
    return suggestions


def _action(spec: dict, finding: Finding, pack: KnowledgePack, patient_id: str, label: str) -> dict:
    if spec["action"] == "delete-draft":
        return {"type": "delete", "description": label, "resourceId": finding.draft_reference}
    if spec["action"] == "order-lab":
        order = lab_order(pack, spec["order"], patient_id, rule_id=finding.rule_id)
        return {"type": "create", "description": label, "resource": order}
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
            "reasonCode": [{"text": f"Azathioprine monitoring ({rule_id}, aza-cds)"}],
        }
    )
    return order.model_dump(mode="json", exclude_none=True)
