"""Matching medications and labs to the pack's value sets, and unit conversion."""

from __future__ import annotations

import pytest
from helpers import shipped_pack

from service.terminology import Terminology, convert, factor_table

PACK = shipped_pack()
TERMS = Terminology(PACK)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def concepts(codeable, extra=()):
    match = TERMS.match(codeable, extra_text=extra)
    return sorted(match.concepts) if match else []


@pytest.mark.parametrize(
    ("codeable", "expected"),
    [
        ({"coding": [{"system": RXNORM, "code": "1256"}]}, ["azathioprine"]),  # ingredient
        ({"coding": [{"system": RXNORM, "code": "197388"}]}, ["azathioprine"]),  # SCD 50 mg
        ({"coding": [{"system": RXNORM, "code": "105611"}]}, ["azathioprine"]),  # SBD Imuran
        ({"coding": [{"system": "urn:oid:2.16.840.1.113883.6.88", "code": "404476"}]}, ["azathioprine"]),  # OID
        ({"coding": [{"system": RXNORM, "code": "834235"}]}, ["febuxostat"]),
        ({"coding": [{"system": RXNORM, "code": "197319"}]}, ["allopurinol"]),
        ({"coding": [{"system": "http://www.whocc.no/atc", "code": "L04AX01"}]}, ["azathioprine"]),
        ({"text": "IMURAN 50MG TAB"}, ["azathioprine"]),
        ({"text": "Azasan 75 mg"}, ["azathioprine"]),
        ({"text": "Uloric"}, ["febuxostat"]),
        ({"coding": [{"display": "Zyloprim 100 mg tablet"}]}, ["allopurinol"]),
        # a code we do not know falls back to its display
        ({"coding": [{"system": RXNORM, "code": "1789839", "display": "azathioprine Injection"}]}, ["azathioprine"]),
        ({"text": "Imuranx"}, []),  # whole words only
        ({"text": "mercaptopurine 50 mg"}, ["mercaptopurine"]),
        ({"text": "Purixan 20 mg/mL suspension"}, ["mercaptopurine"]),
        ({"text": "sulfamethoxazole 800 MG / trimethoprim 160 MG"}, ["trimethoprim"]),
        ({"text": "Bactrim DS"}, ["co-trimoxazole"]),
        ({"coding": [{"system": RXNORM, "code": "314076", "display": "lisinopril 10 MG Oral Tablet"}]}, ["lisinopril"]),
        (
            {"coding": [{"system": RXNORM, "code": "861007", "display": "metformin hydrochloride 500 MG Oral Tablet"}]},
            [],
        ),
        ("not a concept", []),
        ({"coding": "garbage", "text": 42}, []),
    ],
)
def test_medication_matching(codeable, expected):
    assert concepts(codeable) == expected


def test_code_match_wins_over_text_and_carries_strength_and_evidence():
    match = TERMS.match({"coding": [{"system": RXNORM, "code": "359228"}], "text": "Uloric"})
    assert match.concepts == {"azathioprine"} and match.strength_mg == 100
    assert match.evidence == "RxNorm code 359228" and not match.unverified


def test_repeated_and_unserialisable_concepts_match_the_same_way():
    concept = {"coding": [{"system": RXNORM, "code": "1256"}], "text": "Imuran"}
    first, second = TERMS.match(concept), TERMS.match(dict(reversed(concept.items())))  # same concept, other key order
    assert first == second and first.concepts == {"azathioprine"}
    huge = {"text": "Imuran", "extension": [{"valueInteger": 2**70}]}  # valid JSON, but beyond orjson's integers
    assert TERMS.match(huge).concepts == {"azathioprine"}
    # the text that makes a match is part of the key: one concept, two different outcomes
    assert TERMS.match({}, extra_text=["Uloric"]).concepts == {"febuxostat"}
    assert TERMS.match({}, extra_text=["Zyloprim"]).concepts == {"allopurinol"}


def test_match_memory_stays_bounded(monkeypatch):
    terms = Terminology(shipped_pack())
    monkeypatch.setattr("service.terminology.matcher.MATCH_CACHE_SIZE", 10)
    for number in range(25):
        terms.match({"text": f"drug {number}"})
    assert len(terms._matches) <= 10
    assert terms.match({"text": "drug 3 Imuran"}).concepts == {"azathioprine"}


def test_unverified_code_is_flagged():
    match = TERMS.match({"coding": [{"system": RXNORM, "code": "73689"}]})  # febuxostat IN, status K in the pack
    assert match.concepts == {"febuxostat"} and match.unverified


def test_lab_codes():
    assert TERMS.code_match([{"system": "http://loinc.org", "code": "6690-2"}]) == ("wbc", "6690-2")
    assert TERMS.code_match([{"system": "urn:oid:2.16.840.1.113883.6.1", "code": "777-3"}]) == ("platelets", "777-3")
    assert TERMS.code_match([{"system": "http://loinc.org", "code": "2160-0"}]) == ("creatinine", "2160-0")
    assert TERMS.code_match([{"system": "http://loinc.org", "code": "2345-7"}]) is None  # glucose: not ours


@pytest.mark.parametrize(
    ("value", "unit", "canonical", "expected"),
    [
        (6.2, "10*9/L", "10*9/L", 6.2),
        (6.2, "10*3/uL", "10*9/L", 6.2),
        (6.2, "x10E3/uL", "10*9/L", 6.2),
        (6.2, "10^3/µL", "10*9/L", 6.2),
        (6.2, "K/uL", "10*9/L", 6.2),
        (6200, "/uL", "10*9/L", 6.2),
        (6200, "cells/mm3", "10*9/L", 6.2),
        (6200, "/mm3", "10*9/L", 6.2),
        (13.5, "g/dL", "g/L", 135.0),
        (154, "[lb_av]", "kg", 69.85322498),
        (70000, "g", "kg", 70.0),
        (5, "furlongs", "kg", None),
        ("5", "kg", "kg", None),
        (True, "kg", "kg", None),
    ],
)
def test_units(value, unit, canonical, expected):
    result = convert(value, unit, factor_table(canonical))
    assert result == pytest.approx(expected) if expected is not None else result is None


@pytest.mark.parametrize(
    ("name", "concept", "group"),
    [
        ("golimumab 50 MG/0.5ML Auto-Injector [Simponi]", "golimumab", "tnf-blockers"),
        ("Arava 20 mg tablet", "leflunomide", "myelosuppressants"),
        ("hydroxyurea 500 MG Oral Capsule", "hydroxyurea", "myelosuppressants"),
        ("Jyseleca 200 mg", "filgotinib", "jak-inhibitors"),
        ("bendamustine HCl 100 MG Injection", "bendamustine", "alkylating-agents"),
    ],
)
def test_other_members_of_the_modelled_drug_families_are_recognised(name, concept, group):
    found = TERMS.match({"text": name})
    assert found and concept in found.concepts and concept in PACK.groups[group]
