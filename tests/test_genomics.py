"""TPMT and NUDT15 phenotypes from the shapes labs and the Genomics Reporting IG use."""

from __future__ import annotations

import pytest

from service.record.genomics import has_pgx_result, read_phenotypes

LOINC = "http://loinc.org"


def result(code, value, effective="2025-01-01", oid="o1"):
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": code,
        "effectiveDateTime": effective,
        **value,
    }


TPMT_CODE = {
    "coding": [{"system": LOINC, "code": "79713-4", "display": "TPMT gene product metabolic activity interpretation"}]
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9657-3"}]}}, "Poor Metabolizer"),
        ({"valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA10317-8"}]}}, "Intermediate Metabolizer"),
        ({"valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA25391-6"}]}}, "Normal Metabolizer"),
        ({"valueString": "Possible intermediate metabolizer"}, "Possible Intermediate Metabolizer"),
        ({"valueString": "*1/*3A heterozygous"}, "Intermediate Metabolizer"),
        ({"valueString": "Homozygous wild-type (*1/*1)"}, "Normal Metabolizer"),
        ({"valueString": "Homozygous variant, deficient activity"}, "Poor Metabolizer"),
        ({"valueString": "Indeterminate"}, "Indeterminate"),
        ({"valueCodeableConcept": {"text": "Abnormal"}}, None),
        ({"valueCodeableConcept": {"text": "*1/*3A"}}, None),  # a genotype alone names no phenotype
    ],
)
def test_tpmt_phenotype_values(value, expected):
    found = read_phenotypes([result(TPMT_CODE, value)])
    assert (found["TPMT"].value if "TPMT" in found else None) == expected


def test_genomics_ig_gene_component_names_the_gene():
    observation = result(
        {"text": "therapeutic implication"},
        {
            "component": [
                {
                    "code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
                    "valueCodeableConcept": {
                        "coding": [{"system": "http://www.genenames.org/geneId", "code": "HGNC:23063"}]
                    },
                },
                {
                    "code": {"text": "implication"},
                    "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9657-3"}]},
                },
            ]
        },
    )
    assert read_phenotypes([observation])["NUDT15"].value == "Poor Metabolizer"


def test_the_latest_result_per_gene_wins():
    older = result(TPMT_CODE, {"valueString": "Intermediate metabolizer"}, "2020-01-01", "old")
    newer = result(TPMT_CODE, {"valueString": "Normal metabolizer"}, "2024-01-01", "new")
    assert read_phenotypes([newer, older])["TPMT"].value == "Normal Metabolizer"


def test_a_result_without_phenotype_still_counts_as_tested():
    genotype = result({"coding": [{"system": LOINC, "code": "41048-0"}]}, {"valueCodeableConcept": {"text": "*1/*3C"}})
    assert read_phenotypes([genotype]) == {} and has_pgx_result([genotype])
    assert not has_pgx_result([result({"coding": [{"system": LOINC, "code": "6690-2"}]}, {})])
