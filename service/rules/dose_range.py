"""Dose range: the daily dose of the rule's drug per kg of the latest weight, against the rule's range.

Every number is a parameter of the rule in the pack:
- `maximum_mg_per_kg`, a number or one per indication ("other" for the rest): above it is the `above-maximum` card;
- `info_above_mg_per_kg`: above the usual dose is the `above-usual` info card, for new starts only
  (`info_for_new_starts_only`) or once `info_after_transplant_days` have passed since the `transplant`;
- `indications` / `excluded_indications`: the indications the range is for (default: any);
- with `interactants`, the range holds while one is taken (drafted or active), and its maximum is
  `while_taking_fraction` of `maximum_mg_per_kg`: the card offers the draft reduced by that fraction (DOSE-04).
"""

from __future__ import annotations

from datetime import timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import MedicationUse, PatientRecord
from service.record.model import Measurement
from service.rules.common import basis, focus_uses, indication, is_new_start, mg, per_kg, weight
from service.rules.findings import DoseChange, Finding


def evaluate(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    partners = [use for use in record.drafts + record.active_medications if use.concepts & rule.interactants]
    if rule.interactants and not partners:
        return []
    findings = []
    for use in _uses(rule, record, partners):
        kg = weight(record, rule.param("weight_max_age_days"), pack)
        daily = use.dose.high
        if daily is None or kg is None:
            continue
        why = indication(use, record, pack)
        if not _applies(rule, why):
            continue
        dose = daily / kg.value
        maximum = _maximum(rule, why)
        variant = _variant(rule, record, dose, maximum * rule.parameters.get("while_taking_fraction", 1))
        if variant:
            findings.append(_finding(rule, use, variant, dose, kg, maximum, partners[0] if partners else None))
            if partners:
                break  # one card for the pair
    return findings


def _uses(rule: Rule, record: PatientRecord, partners: list[MedicationUse]) -> list[MedicationUse]:
    """The uses the hook asks about; with an interactant, also an active use when the interactant is the draft."""
    if not rule.interactants:
        return focus_uses(rule, record)
    partner_drafted = any(other in record.drafts_in_scope for other in partners)
    return [
        use
        for use in record.drafts + record.active_medications
        if use.has(rule.drug) and (record.hook == "patient-view" or partner_drafted or use in record.drafts_in_scope)
    ]


def _applies(rule: Rule, why: str) -> bool:
    wanted, excluded = rule.parameters.get("indications", ["any"]), rule.parameters.get("excluded_indications", [])
    return why not in excluded and ("any" in wanted or why in wanted)


def _maximum(rule: Rule, why: str) -> float:
    maximum = rule.param("maximum_mg_per_kg")
    return maximum[why] if isinstance(maximum, dict) else maximum


def _variant(rule: Rule, record: PatientRecord, dose: float, limit: float) -> str | None:
    if dose > limit:
        return "above-maximum"
    info_above = rule.parameters.get("info_above_mg_per_kg")
    if info_above is None or dose <= info_above:
        return None
    if rule.parameters.get("info_for_new_starts_only") and not is_new_start(record, rule.drug):
        return None
    since = rule.parameters.get("info_after_transplant_days")
    if since is not None:
        transplant = [c.when for c in record.conditions if rule.param("transplant") in c.current and c.when]
        if not transplant or record.now - max(transplant) <= timedelta(days=since):
            return None
    return "above-usual"


def _finding(
    rule: Rule,
    use: MedicationUse,
    variant: str,
    dose: float,
    kg: Measurement,
    maximum: float,
    partner: MedicationUse | None,
) -> Finding:
    fraction = rule.parameters.get("while_taking_fraction")
    values = {
        "mg_per_kg": per_kg(dose),
        "mg_per_day": mg(use.dose.high or 0),
        "weight_kg": f"{kg.value:.1f}",
        "weight_date": kg.effective.date().isoformat(),
        "drug_label": use.label,
        "maximum": str(maximum),
        "limit": per_kg(maximum * (fraction or 1)),
        "usual": str(rule.parameters.get("info_above_mg_per_kg", "")),
    }
    if partner:
        values["other_label"] = partner.label
    return Finding(
        rule.id,
        variant,
        values,
        basis=(basis(use), *([basis(partner)] if partner else [])),
        indicator=rule.indicator if variant == "above-maximum" else "info",
        draft_reference=use.reference if use.is_draft and use.resource_id else None,
        dose_change=DoseChange.of(use, fraction) if variant == "above-maximum" else None,
    )
