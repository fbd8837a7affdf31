"""The knowledge pack validates, and the checker catches what would make unsafe or invalid cards."""

from __future__ import annotations

import json
import shutil

import pytest

from service.config import REPO_ROOT
from service.knowledge import check_pack, load_pack

PACK_DIR = REPO_ROOT / "cards"


def test_shipped_pack_is_valid():
    assert check_pack(PACK_DIR) == []
    pack = load_pack(PACK_DIR)
    assert {"DDI-01", "DDI-02", "MON-01"} <= {rule.id for rule in pack.rules}


def test_every_code_carries_a_verification_status_and_known_source():
    pack = load_pack(PACK_DIR)
    for concept in pack.concepts.values():
        assert all(code.status in {"V", "S", "K"} for code in concept.codes)


def test_febuxostat_ingredient_code_stays_flagged_unverified():
    """No authoritative source was found for RxCUI 73689; it must not be presented as verified."""
    codes = {code.code: code.status for code in load_pack(PACK_DIR).concepts["febuxostat"].codes}
    assert codes["73689"] == "K"


@pytest.fixture
def pack_copy(tmp_path):
    target = tmp_path / "cards"
    shutil.copytree(PACK_DIR, target)
    return target


def edit(path, change):
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("file", "change", "fragment"),
    [
        ("rules/interactions.json", lambda d: d["rules"].append(d["rules"][0]), "id used twice"),
        ("rules/interactions.json", lambda d: d["rules"][0]["evidence"][0].update(source="nowhere"), "unknown source"),
        (
            "rules/interactions.json",
            lambda d: d["rules"][0].update(interactants=["nothing"]),
            "unknown value-set concept",
        ),
        (
            "rules/interactions.json",
            lambda d: d["rules"][0]["cards"]["ordered"].update(summary="{draft_drug} and {other_drug}: " + "x" * 60),
            "summary can reach",
        ),
        (
            "rules/interactions.json",
            lambda d: d["rules"][0]["cards"]["ordered"].update(summary="{draft_label} is dangerous"),
            "no length bound",
        ),
        (
            "rules/monitoring.json",
            lambda d: d["rules"][0]["parameters"]["grace_days"].pop("source"),
            "'source' is a required property",
        ),
        ("rules/monitoring.json", lambda d: d["rules"][0].update(indicator="hard-stop"), "hard-stop"),
        (
            "valuesets/medications.json",
            lambda d: d["concepts"][0]["codes"][0].pop("status"),
            "'status' is a required property",
        ),
        ("manifest.json", lambda d: d.update(version="one"), "does not match"),
    ],
    ids=[
        "duplicate-id",
        "unknown-source",
        "unknown-concept",
        "long-summary",
        "free-text-in-summary",
        "parameter-without-source",
        "bad-indicator",
        "code-without-status",
        "bad-version",
    ],
)
def test_checker_finds_problems(pack_copy, file, change, fragment):
    edit(pack_copy / file, change)
    problems = check_pack(pack_copy)
    assert any(fragment in problem for problem in problems), problems
