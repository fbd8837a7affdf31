"""TPMT and NUDT15 phenotypes from the shapes labs and the Genomics Reporting IG use; diplotypes as CPIC assigns them.

Expected phenotypes come from CPIC's own tables (cards/sources/cpic/, CC0) and the IG's example shapes."""

from __future__ import annotations

import csv

import pytest
from helpers import PACK_DIR, shipped_pack

from service.record.diplotypes import CpicPhenotypes
from service.record.genomics import GenomicsReader

LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org"
TBD = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CPIC = PACK_DIR / "sources" / "cpic"
READER = GenomicsReader(shipped_pack())
TABLES = CpicPhenotypes(shipped_pack())


def read(*observations):
    return READER.read(list(observations))


def phenotype(found, gene):
    return found.phenotypes[gene].value if gene in found.phenotypes else None


def result(code, value, effective="2025-01-01", oid="o1", status="final"):
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "code": code,
        "effectiveDateTime": effective,
        **value,
    }


def loinc(code, display=None):
    return {"coding": [{"system": LOINC, "code": code, **({"display": display} if display else {})}]}


def gene_studied(hgnc: str, name: str) -> dict:
    return {
        "code": loinc("48018-6"),
        "valueCodeableConcept": {"coding": [{"system": HGNC, "code": hgnc, "display": name}]},
    }


def genotype(gene, hgnc, value, oid="g1", **extra):
    """A Genomics Reporting IG Genotype: LOINC 84413-4, the gene in a 48018-6 component, the diplotype as value."""
    return result(
        loinc("84413-4", "Genotype display name"),
        {"valueCodeableConcept": {"text": value}, "component": [gene_studied(hgnc, gene)], **extra},
        oid=oid,
    )


def implication(answer, derived_from=None, oid="ti1", stu3=True, components=()):
    """A Therapeutic Implication: metabolizer answer in a component (STU3 code, or 53040-2 in STU2), medication
    assessed in 51963-7, linked to its genotype by derivedFrom."""
    effect = {"coding": [{"system": TBD, "code": "therapeutic-implication"}]} if stu3 else loinc("53040-2")
    parts = [
        {"code": effect, "valueCodeableConcept": loinc(answer)},
        {"code": loinc("51963-7"), "valueCodeableConcept": {"coding": [{"code": "1256", "display": "azathioprine"}]}},
        *components,
    ]
    value = {
        "component": parts,
        **({"derivedFrom": [{"reference": f"Observation/{derived_from}"}]} if derived_from else {}),
    }
    return result({"coding": [{"system": TBD, "code": "therapeutic-implication"}]}, value, oid=oid)


TPMT_PHENOTYPE = loinc("79713-4", "TPMT gene product metabolic activity interpretation")


def table(name):
    with (CPIC / name).open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_every_cpic_diplotype_gets_cpic_s_phenotype_in_every_spelling():
    rows = table("cpic-tpmt-nudt15-diplotype-phenotype-2025-11-05.tsv")
    assert (
        len([r for r in rows if r["gene"] == "TPMT"]) == 946 and len([r for r in rows if r["gene"] == "NUDT15"]) == 45
    )
    for row in rows:
        gene, (first, second) = row["gene"], row["diplotype"].split("/")
        for text in (
            row["diplotype"],
            f"{second}/{first}",
            f"{gene} {first}/{second}",
            f"{gene}{first} / {second}",
            f"{first.lower()}/{second.lower()}",
        ):
            reading = TABLES.read(gene, text)
            assert reading and reading.phenotype == row["phenotype"], (gene, text, reading)


def test_uncertain_or_unlisted_alleles_are_indeterminate_and_named():
    functions = {
        (r["gene"], r["allele"]): r["function"] for r in table("cpic-tpmt-nudt15-allele-function-2025-11-05.tsv")
    }
    assert functions[("TPMT", "*5")] == "Uncertain function"
    uncertain = TABLES.read("TPMT", "*1/*5")
    assert uncertain.phenotype == "Indeterminate" and "*5" in uncertain.problem and "uncertain" in uncertain.problem
    unlisted = TABLES.read("TPMT", "*1/*99")
    assert unlisted.phenotype == "Indeterminate" and "*99" in unlisted.problem  # never Normal
    assert TABLES.read("TPMT", "homozygous wild type").phenotype == "Normal Metabolizer"  # *1/*1
    assert TABLES.read("TPMT", "no diplotype here") is None


def test_genomics_ig_genotype_poor_metabolizer():
    """The issue's first example: 84413-4 with the gene in 48018-6 and value *3A/*3A (CPIC: Poor Metabolizer)."""
    found = read(genotype("TPMT", "HGNC:12014", "*3A/*3A"))
    assert phenotype(found, "TPMT") == "Poor Metabolizer" and found.has_result
    assert found.phenotypes["TPMT"].method == "genotype *3A/*3A" and found.phenotypes["TPMT"].evidence.startswith(
        "Observation/g1"
    )


def test_implication_linked_only_by_derived_from_takes_the_genotype_s_gene():
    for stu3 in (True, False):
        found = read(
            genotype("NUDT15", "HGNC:23063", "NUDT15 *1/*1", oid="g2"), implication("LA9657-3", "g2", stu3=stu3)
        )
        assert phenotype(found, "NUDT15") == "Poor Metabolizer"  # the more cautious of Normal (*1/*1) and Poor
        assert "Observation/g2" in found.phenotypes["NUDT15"].conflict


def test_implication_with_its_own_gene_component_needs_no_link():
    found = read(implication("LA10317-8", components=[gene_studied("HGNC:12014", "TPMT")]))
    assert phenotype(found, "TPMT") == "Intermediate Metabolizer"


def test_value_string_diplotype_from_a_lab_interface():
    assert phenotype(read(result(TPMT_PHENOTYPE, {"valueString": "*1/*3A"})), "TPMT") == "Intermediate Metabolizer"


def test_negated_narrative_is_read_as_the_diplotype_it_states():
    """TPMT *1/*1 with 'no deficiency allele ... absent' is CPIC Normal: no poor or intermediate phenotype."""
    text = "TPMT *1/*1. No deficiency allele detected (*2, *3A, *3B, *3C absent)"
    assert phenotype(read(result(TPMT_PHENOTYPE, {"valueString": text})), "TPMT") == "Normal Metabolizer"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"valueCodeableConcept": loinc("LA9657-3")}, "Poor Metabolizer"),
        ({"valueCodeableConcept": loinc("LA10317-8")}, "Intermediate Metabolizer"),
        ({"valueCodeableConcept": loinc("LA25391-6")}, "Normal Metabolizer"),
        ({"valueCodeableConcept": loinc("LA25390-8")}, "Indeterminate"),  # CPIC has no rapid TPMT phenotype
        ({"valueString": "Possible intermediate metabolizer"}, "Possible Intermediate Metabolizer"),
        ({"valueString": "Intermediate metabolizer (*1/*3A)"}, "Intermediate Metabolizer"),
        ({"valueString": "Homozygous wild-type (*1/*1)"}, "Normal Metabolizer"),
        ({"valueString": "Indeterminate"}, "Indeterminate"),
        ({"valueString": "Not a poor metabolizer"}, None),  # negated: on file, not interpretable
        ({"valueString": "Negative for poor metabolizer alleles"}, None),
        ({"valueString": "Homozygous variant, deficient activity"}, None),  # bare words name no phenotype
        ({"valueString": "heterozygous"}, None),
        ({"valueCodeableConcept": {"text": "Abnormal"}}, None),
        ({"valueString": "Normal metabolizer; intermediate metabolizer on repeat"}, None),  # two phenotypes: ambiguous
    ],
)
def test_reported_phenotypes_in_words_are_read_safely(value, expected):
    found = read(result(TPMT_PHENOTYPE, value))
    assert phenotype(found, "TPMT") == expected and found.has_result
    assert ("TPMT" in found.uninterpretable) is (expected is None)


@pytest.mark.parametrize(
    ("value", "flag", "low", "expected"),
    [
        (2.0, "LL", 15.0, "Poor Metabolizer"),
        (9.0, "L", 15.0, "Intermediate Metabolizer"),
        (20.0, "N", 15.0, "Normal Metabolizer"),
        (0.0, None, None, "Poor Metabolizer"),  # absent activity
        (9.0, None, 15.0, "Intermediate Metabolizer"),  # below the lab's own range
        (20.0, None, 15.0, "Normal Metabolizer"),
        (9.0, None, None, None),  # no flag, no range: no universal cut-off, not interpretable
    ],
)
def test_tpmt_activity_by_the_lab_s_flag_or_range(value, flag, low, expected):
    observation = result(loinc("21563-2"), {"valueQuantity": {"value": value, "unit": "U/mL"}})
    if flag:
        observation["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": flag}]}]
    if low is not None:
        observation["referenceRange"] = [{"low": {"value": low, "unit": "U/mL"}}]
    found = read(observation)
    assert phenotype(found, "TPMT") == expected
    if expected:
        assert found.phenotypes["TPMT"].method.startswith("TPMT activity")


def test_activity_under_a_local_code_is_recognised_by_its_name():
    local = result(
        {"coding": [{"system": "urn:lab:local", "code": "TPMTA"}], "text": "TPMT activity, RBC"},
        {
            "valueQuantity": {"value": 3.0, "unit": "U/g Hb"},
            "interpretation": [{"coding": [{"system": INTERPRETATION, "code": "LL"}]}],
        },
    )
    assert phenotype(read(local), "TPMT") == "Poor Metabolizer"


def test_results_that_disagree_give_the_more_cautious_phenotype_and_name_both():
    normal = result(TPMT_PHENOTYPE, {"valueString": "*1/*1"}, "2024-01-01", "lab-a")
    activity = result(
        loinc("21563-2"),
        {"valueQuantity": {"value": 9.0, "unit": "U/mL"}, "interpretation": [{"coding": [{"code": "L"}]}]},
        "2024-02-01",
        "lab-b",
    )
    found = read(normal, activity)
    assert phenotype(found, "TPMT") == "Intermediate Metabolizer"
    assert (
        found.phenotypes["TPMT"].evidence.startswith("Observation/lab-b")
        and "Observation/lab-a" in found.phenotypes["TPMT"].conflict
    )


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "preliminary"])
def test_withdrawn_or_preliminary_results_do_not_count(status):
    found = read(genotype("TPMT", "HGNC:12014", "*3A/*3A") | {"status": status})
    assert found.phenotypes == {} and not found.has_result


def test_a_panel_names_each_gene_s_diplotype():
    panel = result(loinc("93193-1"), {"valueString": "TPMT *1/*3A; NUDT15 *1/*1"})
    found = read(panel)
    assert (phenotype(found, "TPMT"), phenotype(found, "NUDT15")) == ("Intermediate Metabolizer", "Normal Metabolizer")


def test_other_results_are_not_pharmacogenomic():
    found = read(result(loinc("6690-2"), {"valueQuantity": {"value": 6.0}}))
    assert not found.has_result and found.phenotypes == {} and found.uninterpretable == {}
