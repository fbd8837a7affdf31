"""Knowledge lives in cards/: the record, rule and rendering modules hold no clinical wording, no concept id and no
code of their own. A string in service/record/, service/rules/ or service/render/ is a parameter or phrase name, a
card variant, a FHIR element, a format, or one of the few structural words listed here; card text, what the record
says it could not read, concept ids, codes and clinical numbers come from the pack."""

from __future__ import annotations

import ast
import re

import pytest
from helpers import REPO, shipped_pack

from service.record.genomics import NEGATION_AFTER, NEGATION_BEFORE

RULE_MODULES = sorted(path for room in ("record", "rules", "render") for path in (REPO / "service" / room).glob("*.py"))
STRUCTURAL_WORDING = {
    NEGATION_BEFORE.pattern,  # English negation cues around a phenotype in words, as terminology/names.py has its own
    NEGATION_AFTER.pattern,
    ") recognised by ",  # the basis line under a card: "MedicationRequest/a1 (active) recognised by RxNorm 197388"
    "rule %s: a card template left %s unfilled",  # for the operator's log, not a card
    "unknown suggestion action ",  # an exception for the developer: the pack check rules it out
}
# Gene symbols that are the CPIC table's own column names (the table is data; its columns are its schema).
TABLE_COLUMNS = {"TPMT", "NUDT15"}
CODE = re.compile(r"^\d{3,}(-\d)?$|^[A-Z]\d{2}(\.\d+)?$")  # a LOINC, RxNorm or SNOMED number, an ICD-10 code


def _strings(path):
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("path", RULE_MODULES, ids=lambda path: path.name)
def test_rule_modules_compose_no_wording(path):
    prose = [(line, text) for line, text in _strings(path) if " " in text.strip() or re.search(r"\w \w", text)]
    assert [item for item in prose if item[1] not in STRUCTURAL_WORDING] == []


@pytest.mark.parametrize("path", RULE_MODULES, ids=lambda path: path.name)
def test_rule_modules_name_no_concept_and_no_code(path):
    pack = shipped_pack()
    vocabulary = set(pack.concepts) | set(pack.groups) | {concept.display for concept in pack.concepts.values()}
    found = [(line, text) for line, text in _strings(path) if text in vocabulary or CODE.match(text)]
    assert [item for item in found if item[1] not in TABLE_COLUMNS] == []


def test_the_checks_catch_what_they_are_for(tmp_path):
    """The two checks flag card wording and a concept id (a check that cannot fail proves nothing)."""
    sample = tmp_path / "sample.py"
    sample.write_text('x = f"{a} fell by {b}"\ny = "dialysis"\nz = "2160-0"\n')
    vocabulary = set(shipped_pack().concepts)
    strings = _strings(sample)
    assert [text for _, text in strings if " " in text] == [" fell by "]
    assert [text for _, text in strings if text in vocabulary or CODE.match(text)] == ["dialysis", "2160-0"]


WORDING_CALLS = {"phrase", "_phrase", "wording", "_Unusable"}  # how record/ and rules/ name a pack-wide phrase


@pytest.mark.parametrize("path", RULE_MODULES, ids=lambda path: path.name)
def test_every_pack_phrase_the_code_names_is_in_the_pack(path):
    """A phrase the record or a rule names by key (`pack.phrase("record-dose-unit", ...)`) is one of the manifest's
    `phrases`: a key missing from the pack would be a KeyError at call time, on whatever data first needs it."""
    phrases = shipped_pack().phrases
    named = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
            if called in WORDING_CALLS and not (isinstance(receiver, ast.Name) and receiver.id == "rule"):
                named.append(node.args[0].value)
    assert [key for key in named if key not in phrases] == []
