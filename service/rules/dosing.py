"""Dose rules: mg/kg/day of azathioprine against the indication's range, allopurinol dose reduction, dose notices.

Every number (ranges, fractions, ages, weight age) is a parameter of the rule in the pack.
"""

from __future__ import annotations

from datetime import timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import MedicationUse, PatientRecord
from service.rules.common import basis, focus_uses, indication, is_new_start, mg, per_kg, weight
from service.rules.findings import DoseChange, Finding


def dose_range(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    findings = []
    for use in focus_uses(rule, record):
        kg = weight(record, rule.param("weight_max_age_days"), pack)
        why = indication(use, record, pack)
        daily = use.dose.high
        if daily is None or kg is None or not _applies(rule, why):
            continue
        dose = daily / kg.value
        variant = _variant(rule, record, use, dose)
        if variant:
            findings.append(_finding(rule, use, variant, dose, kg, why))
    return findings


def _applies(rule: Rule, why: str) -> bool:
    wanted, excluded = rule.param("indications"), rule.parameters.get("excluded_indications", [])
    return why not in excluded and ("any" in wanted or why in wanted)


def _variant(rule: Rule, record: PatientRecord, use: MedicationUse, dose: float) -> str | None:
    if dose > rule.param("warning_above_mg_per_kg"):
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


def _finding(rule, use, variant, dose, kg, why) -> Finding:
    values = {
        "mg_per_kg": per_kg(dose),
        "mg_per_day": mg(use.dose.high),
        "weight_kg": f"{kg.value:.1f}",
        "weight_date": kg.effective.date().isoformat(),
        "drug_label": use.label,
        "maximum": str(rule.param("warning_above_mg_per_kg")),
        "usual": str(rule.parameters.get("info_above_mg_per_kg", "")),
    }
    indicator = rule.indicator if variant == "above-maximum" else "info"
    return Finding(
        rule.id,
        variant,
        values,
        basis=(basis(use),),
        indicator=indicator,
        draft_reference=use.reference if use.is_draft and use.resource_id else None,
    )


def dose_with_interactant(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """DOSE-04: azathioprine not reduced to the pack's fraction of the usual dose while allopurinol is given."""
    others = [use for use in record.drafts + record.active_medications if use.concepts & rule.interactants]
    if not others:
        return []
    findings = []
    for use in [u for u in record.drafts + record.active_medications if u.has(rule.drug)]:
        kg = weight(record, rule.param("weight_max_age_days"), pack)
        in_scope = (
            record.hook == "patient-view"
            or use in record.drafts_in_scope
            or any(o in record.drafts_in_scope for o in others)
        )
        daily = use.dose.high
        if not in_scope or daily is None or kg is None:
            continue
        usual = rule.param("usual_mg_per_kg")[indication(use, record, pack)]
        limit = usual * rule.param("fraction")
        dose = daily / kg.value
        if dose > limit:
            values = {
                "mg_per_kg": per_kg(dose),
                "mg_per_day": mg(daily),
                "limit": per_kg(limit),
                "weight_kg": f"{kg.value:.1f}",
                "drug_label": use.label,
                "other_label": others[0].label,
            }
            draft = bool(use.is_draft and use.resource_id)
            findings.append(
                Finding(
                    rule.id,
                    "not-reduced",
                    values,
                    basis=(basis(use), basis(others[0])),
                    draft_reference=use.reference if draft else None,
                    dose_change=DoseChange.of(use, rule.param("fraction")),
                )
            )
            break
    return findings
