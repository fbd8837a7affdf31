"""Knowledge lives in cards/: the rule and rendering modules hold no clinical wording, no concept id and no code of
their own. A string in service/rules/ or service/render/ is a parameter or phrase name, a card variant, a FHIR
element, a format, or one of the few structural words listed here; card text, concept ids, codes and clinical
numbers come from the pack."""

from __future__ import annotations

import ast
import re

import pytest
from helpers import REPO, shipped_pack

RULE_MODULES = sorted([*(REPO / "service" / "rules").glob("*.py"), *(REPO / "service" / "render").glob("*.py")])
STRUCTURAL_WORDING = {
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
