"""Pharmacogenomics: the CPIC TPMT x NUDT15 recommendation for the patient's phenotypes, and baseline testing."""

from __future__ import annotations

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.rules.common import basis, focus_uses, is_new_start, mg
from service.rules.findings import Finding

# How phenotypes read from results map onto the CPIC table's row labels.
CPIC_LABELS = {
    "Normal Metabolizer": "Normal Metabolizer",
    "Intermediate Metabolizer": "Intermediate Metabolizer",
    "Possible Intermediate Metabolizer": "Possible Intermediate Metabolizer",
    "Poor Metabolizer": "Poor Metabolizer",
    "Indeterminate": "Indeterminate",
}


def cpic(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    uses = focus_uses(rule, record)
    if not uses or not record.phenotypes:
        return []
    tpmt = _label(record, "TPMT")
    nudt15 = _label(record, "NUDT15")
    row = next((r for r in rule.param("table") if r["TPMT"] == tpmt and r["NUDT15"] == nudt15), None)
    if row is None or row["action"] == "standard":
        return []
    if record.hook == "patient-view" and row["action"] not in rule.param("patient_view_actions"):
        return []
    use = uses[0]
    values = {
        "tpmt": tpmt,
        "nudt15": nudt15,
        "recommendation": row["recommendation"],
        "drug_label": use.label,
        "classification": row["classification"],
    }
    evidence = tuple(p.evidence for p in record.phenotypes.values())
    factor = _factor(rule, row, tpmt, nudt15) if use.is_draft and use.dose.known else None
    if factor:
        values["reduced_mg_per_day"] = mg(use.dose.high * factor)
    return [
        Finding(
            rule.id,
            row["action"],
            values,
            basis=(basis(use), *evidence),
            draft_reference=use.reference if use.is_draft and use.resource_id else None,
            dose_use=use if factor else None,
            dose_factor=factor,
        )
    ]


def _label(record: PatientRecord, gene: str) -> str:
    phenotype = record.phenotypes.get(gene)
    return CPIC_LABELS.get(phenotype.value, "No Result") if phenotype else "No Result"


def _factor(rule: Rule, row: dict, tpmt: str, nudt15: str) -> float | None:
    if row["action"] != "reduce":
        return None
    both = all("Intermediate" in label for label in (tpmt, nudt15))
    return rule.param("reduced_fraction_both_intermediate" if both else "reduced_fraction")


def baseline_test(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """MON-04: a new start with no TPMT or NUDT15 result on file."""
    uses = focus_uses(rule, record)
    if not uses or not is_new_start(record, rule.drug, rule.param("new_start_gap_days")):
        return []
    if record.phenotypes or record.has_pgx_result:
        return []
    return [Finding(rule.id, "no-result", {"drug_label": uses[0].label}, basis=(basis(uses[0]),))]
