"""TPMT and NUDT15 phenotypes from lab results: Genomics Reporting IG observations, TPMT LOINC results, free text."""

from __future__ import annotations

import re
from collections.abc import Iterable

from service.record.clinical import effective_time
from service.record.model import Phenotype

GENES = {"TPMT": "HGNC:12014", "NUDT15": "HGNC:23063"}
GENE_NAME = re.compile("TPMT|NUDT15", re.IGNORECASE)
GENE_STUDIED = "48018-6"  # LOINC component "Gene studied [ID]" (Genomics Reporting IG)
TPMT_CODES = {"79713-4", "41048-0", "36922-3", "80738-8", "63454-3", "71356-0", "100663-4"}  # TPMT results
LA_ANSWERS = {
    "LA9657-3": "Poor Metabolizer",
    "LA10317-8": "Intermediate Metabolizer",
    "LA25391-6": "Normal Metabolizer",
    "LA25390-8": "Rapid Metabolizer",
    "LA10315-2": "Ultrarapid Metabolizer",
}
# First match wins: "possible intermediate" before "intermediate", "wild-type" before "homozygous".
TEXT_PHENOTYPES = [
    (re.compile(r"\bposs(ible|\.)?\s+intermediate", re.I), "Possible Intermediate Metabolizer"),
    (re.compile(r"\bintermediate\b|\bheterozygo", re.I), "Intermediate Metabolizer"),
    (re.compile(r"\bindeterminate\b", re.I), "Indeterminate"),
    (re.compile(r"wild[- ]?type|\bnormal\b|\bextensive\b", re.I), "Normal Metabolizer"),
    (re.compile(r"\bpoor\b|deficien|\babsent\b|homozygo", re.I), "Poor Metabolizer"),
]


def read_genomics(observations: Iterable[dict]) -> tuple[dict[str, Phenotype], bool]:
    """The latest phenotype per gene, and whether any TPMT/NUDT15 result exists at all (one pass).

    Results that name no phenotype (e.g. a bare star-allele genotype) count as a result but give no phenotype."""
    found: dict[str, tuple] = {}
    tested = False
    for observation in observations:
        genes = _genes(observation)
        if not genes:
            continue
        tested = True
        value = _phenotype(observation)
        if not value:
            continue
        when = effective_time(observation)
        for gene in genes:
            if gene not in found or (when and (found[gene][0] is None or when > found[gene][0])):
                evidence = f"Observation/{observation.get('id', '?')} ({when.date() if when else 'undated'})"
                found[gene] = (when, Phenotype(gene, value, evidence))
    return {gene: phenotype for gene, (_, phenotype) in found.items()}, tested


def read_phenotypes(observations: Iterable[dict]) -> dict[str, Phenotype]:
    return read_genomics(observations)[0]


def _genes(observation: dict) -> set[str]:
    if not _may_be_genomic(observation):
        return set()
    genes = set()
    for component in _dicts(observation.get("component")):
        if GENE_STUDIED in _codes(component.get("code")):
            value = component.get("valueCodeableConcept")
            genes |= {gene for gene, hgnc in GENES.items() if hgnc in _codes(value) or gene in _words(value)}
    if genes:
        return genes
    code = observation.get("code")
    if _codes(code) & TPMT_CODES:
        genes.add("TPMT")
    return genes | {gene for gene in GENES if gene in _words(code)}


def _may_be_genomic(observation: dict) -> bool:
    """A cheap pre-filter: most observations are ordinary labs coded with one LOINC code and no gene name."""
    if observation.get("component"):
        return True
    code = observation.get("code")
    if not isinstance(code, dict):
        return False
    if _names_gene(code.get("text")):
        return True
    codings = code.get("coding")
    for coding in codings if isinstance(codings, list) else ():
        if not isinstance(coding, dict):
            continue
        if (isinstance(coding.get("code"), str) and coding["code"] in TPMT_CODES) or _names_gene(coding.get("display")):
            return True
    return False


def _names_gene(text: object) -> bool:
    return isinstance(text, str) and GENE_NAME.search(text) is not None


def _phenotype(observation: dict) -> str | None:
    values = [observation.get("valueCodeableConcept"), observation.get("valueString")]
    values += [c.get("valueCodeableConcept") for c in _dicts(observation.get("component"))]
    for value in values:
        for code in _codes(value):
            if code in LA_ANSWERS:
                return LA_ANSWERS[code]
    for value in values:
        text = value if isinstance(value, str) else " ".join(_words_list(value))
        for pattern, phenotype in TEXT_PHENOTYPES:
            if text and pattern.search(text):
                return phenotype
    return None


def _codes(concept: object) -> set[str]:
    if not isinstance(concept, dict):
        return set()
    return {c["code"] for c in _dicts(concept.get("coding")) if isinstance(c.get("code"), str)}


def _words_list(concept: object) -> list[str]:
    if not isinstance(concept, dict):
        return []
    texts = [concept.get("text")] + [c.get("display") for c in _dicts(concept.get("coding"))]
    return [t for t in texts if isinstance(t, str)]


def _words(concept: object) -> str:
    return " ".join(_words_list(concept)).upper()


def _dicts(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def has_pgx_result(observations: Iterable[dict]) -> bool:
    return read_genomics(observations)[1]
