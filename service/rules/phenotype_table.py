"""Phenotype table: the row of the rule's `table` for the patient's TPMT and NUDT15 phenotypes (CPIC), its action
and recommendation, and a notice when results on file could not be interpreted."""

from __future__ import annotations

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.rules.common import basis, focus_uses, mg
from service.rules.findings import DoseChange, Finding


def evaluate(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    uses = focus_uses(rule, record)
    if not uses:
        return []
    findings = _uninterpretable(rule, record, pack, uses[0])
    if not record.phenotypes:
        return findings
    tpmt = _label(rule, record, "TPMT")
    nudt15 = _label(rule, record, "NUDT15")
    row = next((r for r in rule.param("table") if r["TPMT"] == tpmt and r["NUDT15"] == nudt15), None)
    if row is None or row["action"] == "standard":
        return findings
    if record.hook == "patient-view" and row["action"] not in rule.param("patient_view_actions"):
        return findings
    use = uses[0]
    values = {
        "tpmt": tpmt,
        "nudt15": nudt15,
        "recommendation": row["recommendation"],
        "drug_label": use.label,
        "classification": row["classification"],
        "results": _results(rule, record.phenotypes.values()),
        "table_version": _table_version(rule, pack),
    }
    from_activity = any(p.from_activity for p in record.phenotypes.values())
    phrases = {"caveat": rule.phrases["activity-caveat" if from_activity else "no-caveat"]}
    evidence = tuple(p.evidence for p in record.phenotypes.values())
    daily = use.dose.high
    factor = _factor(rule, row) if use.is_draft and daily is not None else None
    if factor and daily is not None:
        values["reduced_mg_per_day"] = mg(daily * factor)
    finding = Finding(
        rule.id,
        row["action"],
        values,
        phrases,
        basis=(basis(use), *evidence),
        draft_reference=use.reference if use.is_draft and use.resource_id else None,
        dose_change=DoseChange.of(use, factor),
    )
    return [finding, *findings]


def _uninterpretable(rule: Rule, record: PatientRecord, pack: KnowledgePack, use) -> list[Finding]:
    """A gene with results on file none of which could be read: say so (it is not a normal result)."""
    unread = {gene: why for gene, why in record.pgx_uninterpretable.items() if gene not in record.phenotypes}
    if not unread or record.hook not in rule.param("uninterpretable_hooks"):
        return []
    results = "; ".join(rule.phrase("gene-unread", gene=gene, why=why) for gene, why in sorted(unread.items()))
    values = {"drug_label": use.label, "results": results, "table_version": _table_version(rule, pack)}
    return [Finding(rule.id, "uninterpretable", values, {"caveat": ""}, basis=(basis(use),))]


def _results(rule: Rule, phenotypes) -> str:
    """Which result gave each gene's phenotype, how it was read, and what disagrees with it."""
    lines = []
    for p in sorted(phenotypes, key=lambda p: p.gene):
        line = rule.phrase("gene-result", gene=p.gene, phenotype=p.value, method=p.method, evidence=p.evidence)
        if p.note:
            line += rule.phrase("gene-note", note=p.note)
        if p.conflict:
            line += rule.phrase("gene-conflict", conflict=p.conflict)
        lines.append(line)
    return "; ".join(lines)


def _table_version(rule: Rule, pack: KnowledgePack) -> str:
    return rule.phrase("table-version", version=pack.tables["cpic-diplotype-phenotype"].version)


def _label(rule: Rule, record: PatientRecord, gene: str) -> str:
    phenotype = record.phenotypes.get(gene)
    return phenotype.value if phenotype else rule.phrase("no-result")  # CPIC's own terms (the pack's displays)


def _factor(rule: Rule, row: dict) -> float | None:
    if row["action"] == "reduce":
        return rule.param("reduced_fraction")
    if row["action"] == "reduce-both":
        return rule.param("reduced_fraction_both_intermediate")
    return None
