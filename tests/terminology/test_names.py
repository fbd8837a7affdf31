"""Problem-list names read as a clinician reads them (issue 12): negation, history, exclusions, word forms.
Expected readings come from the words' meaning ("Not pregnant" is no pregnancy), not from the code."""

from __future__ import annotations

import pytest
from helpers import shipped_pack

from service.terminology import Terminology

TERMS = Terminology(shipped_pack())


def read(text: str):
    found = TERMS.match_entry({"text": text})
    return (set(found.concepts), set(found.history)) if found else (set(), set())


@pytest.mark.parametrize(
    "text",
    [
        "Not pregnant (finding)",
        "Pregnancy test negative",
        "No known history of cancer",
        "Family history of cancer",
        "Malignant hypertension (disorder)",
        "Neuroleptic malignant syndrome",
        "Pregnancy ruled out",
        "Denies breastfeeding",
        "Latent tuberculosis infection",
        "Chronic kidney disease stage 2 (disorder)",
        "Awaiting transplantation of kidney (situation)",
    ],
)
def test_names_that_are_not_the_concept(text):
    concepts, _ = read(text)
    assert not concepts & {"pregnancy", "malignancy", "lactation", "serious-infection", "renal-impairment",
                           "kidney-transplant"}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Mother currently breast-feeding", "lactation"),
        ("Breast feeding status", "lactation"),
        ("Non-small cell lung cancer (disorder)", "malignancy"),
        ("Sepsis without septic shock", "serious-infection"),
        ("Chronic kidney disease stage 3 (disorder)", "renal-impairment"),
        ("Hepatic veno-occlusive disease", "hepatic-vod"),
        ("Macrophage activation syndrome", "mas"),
        ("Crohn's disease (disorder)", "ibd"),
    ],
)
def test_names_that_are_the_concept(text, concept):
    concepts, history = read(text)
    assert concept in concepts and concept not in history


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Past pregnancy history of miscarriage (situation)", "pregnancy"),
        ("History of malignant neoplasm of breast", "malignancy"),
        ("H/O sepsis", "serious-infection"),
    ],
)
def test_history_is_marked_as_history(text, concept):
    concepts, history = read(text)
    assert concept in concepts and concept in history


def test_a_code_in_the_pack_wins_over_the_words():
    found = TERMS.match_entry({"coding": [{"system": "http://snomed.info/sct", "code": "72892002"}], "text": "x"})
    assert found.concepts == {"pregnancy"} and found.code_label == "SNOMED 72892002"


@pytest.mark.parametrize(
    ("code", "concept"),
    [("K50.90", "ibd"), ("K5090", "ibd"), ("O09.891", "pregnancy"), ("C50.911", "malignancy"), ("Z85.3", "malignancy")],
)
def test_icd10cm_codes_stand_for_their_descendants(code, concept):
    for system in ("http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90"):
        found = TERMS.match_entry({"coding": [{"system": system, "code": code}]})
        assert found and concept in found.concepts and found.code_label == f"ICD-10-CM {code}"


@pytest.mark.parametrize("code", ["N18.2", "K5", "O80", "M06.4"])
def test_icd10cm_codes_outside_the_value_sets_are_not_matched(code):
    # N18.2 is CKD stage 2 (GFR 60-89), M06.4 inflammatory polyarthropathy (not RA), O80 a delivery encounter
    assert TERMS.match_entry({"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]}) is None
