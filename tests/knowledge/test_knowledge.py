"""The knowledge pack validates, and the checker catches what would make unsafe or invalid cards."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import PACK_DIR, REPO, shipped_pack

from service.knowledge import check_pack, load_pack


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
        (
            "rules/monitoring.json",
            lambda d: next(r for r in d["rules"] if r["id"] == "MON-03")["parameters"]["lookback_days"].update(
                value=400
            ),
            "rule MON-03: lookback_days 400 is shorter than its result_max_age_days + creatinine_rise over_days (455)",
        ),
        (
            "valuesets/labs.json",
            lambda d: d["concepts"][0].update(prefetch="everything"),
            "is not one of ['labs', 'weights', 'genomics']",
        ),
        (
            "manifest.json",
            lambda d: d["therapy"]["indication_precedence"].update(value=["kidney-transplant", "no-such-concept"]),
            "therapy indication_precedence: unknown concepts ['no-such-concept']",
        ),
        (
            "manifest.json",
            lambda d: d["therapy"]["indication_precedence"].update(source="nowhere"),
            "therapy indication_precedence: unknown source",
        ),
        (
            "valuesets/labs.json",
            lambda d: next(c for c in d["concepts"] if c.get("prefetch") == "weights").pop("prefetch"),
            "one concept must be the body weight (prefetch 'weights'), found []",
        ),
        (
            "valuesets/genomics.json",
            lambda d: d["caution"]["value"].append("phenotype-unheard-of"),
            "caution names unknown concept 'phenotype-unheard-of'",
        ),
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
        "look-back-shorter-than-the-rule-reads",
        "unknown-prefetch-search",
        "unknown-indication-concept",
        "indication-precedence-without-known-source",
        "no-body-weight-concept",
        "unknown-caution-concept",
    ],
)
def test_checker_finds_problems(pack_copy, file, change, fragment):
    edit(pack_copy / file, change)
    problems = check_pack(pack_copy)
    assert any(fragment in problem for problem in problems), problems


def test_every_rule_kind_in_the_schema_has_an_evaluator_and_back():
    from service.rules import EVALUATORS

    schema = json.loads((PACK_DIR / "schemas" / "rules.schema.json").read_text())
    assert set(schema["$defs"]["rule"]["properties"]["kind"]["enum"]) == set(EVALUATORS)


def test_the_cpic_table_is_complete_and_verbatim_but_for_the_march_2024_update():
    """The 35 CPIC rows verbatim, except the four TPMT x NUDT15 intermediate-or-possible-intermediate rows, which
    CPIC's March 2024 update changed to 20%-50% of the normal dose (recorded as an amendment in the manifest)."""
    import csv

    pack = shipped_pack()
    shipped = {(row["TPMT"], row["NUDT15"]): row for row in pack.rule("PGX-01").param("table")}
    source = PACK_DIR / "sources" / "cpic" / "cpic-azathioprine-tpmt-nudt15-2024-03-25.tsv"
    with source.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(shipped) == len(rows) == 35
    reduced = {"Intermediate Metabolizer", "Possible Intermediate Metabolizer"}
    for row in rows:
        ours = shipped[(row["TPMT"], row["NUDT15"])]
        if row["TPMT"] in reduced and row["NUDT15"] in reduced:
            assert "30%-80% of normal dose" in row["recommendation"]  # what CPIC's table still says
            assert ours["amended"] == "cpic-update-2024-03" and ours["action"] == "reduce-both"
            assert ours["recommendation"] == row["recommendation"].replace("30%-80%", "20%-50%").replace(
                "(e.g., 0.6 – 2.4 mg/kg/day)", "(e.g., 0.4 – 1.5 mg/kg/day)"
            )
        else:
            assert ours["recommendation"] == row["recommendation"] and "amended" not in ours
    assert [a["rule"] for a in pack.amendments] == ["PGX-01"] and "20%-50%" in pack.amendments[0]["what"]
    assert pack.rule("PGX-01").param("reduced_fraction_both_intermediate") == 0.5  # the upper end of 20-50%


def test_a_template_token_the_renderer_cannot_fill_fails_the_check(tmp_path):
    """`{nudt15}` was once left unfilled because the placeholder pattern had no digits: the check renders every
    template and refuses any `{...}` left over."""
    broken = tmp_path / "cards"
    shutil.copytree(PACK_DIR, broken)
    rules = broken / "rules" / "pharmacogenomics.json"
    rules.write_text(rules.read_text().replace("NUDT15: {nudt15}.**", "NUDT15: {NUDT15}.**"))
    problems = check_pack(broken)
    assert any("{NUDT15} would be shown unfilled" in problem for problem in problems), problems


def test_every_rule_id_of_the_reference_is_in_the_pack():
    ids = {rule.id for rule in load_pack(PACK_DIR).rules}
    expected = {f"DDI-{n:02d}" for n in range(1, 15)} | {f"MON-{n:02d}" for n in range(1, 6)}
    expected |= {f"DOSE-{n:02d}" for n in (1, 2, 3, 4, 5, 7)} | {"CI-01", "CI-02", "CI-03"}
    expected |= {f"PREC-{n:02d}" for n in range(1, 9)} | {"PGX-01"}
    assert expected <= ids


def test_the_committed_rule_catalogue_is_current():
    """docs/rules.md is what `aza-cds knowledge catalogue` makes of the shipped pack: regenerate it when it fails
    (`.venv/bin/aza-cds knowledge catalogue --out docs/rules.md`)."""

    from service.rules_markdown import catalogue

    assert (REPO / "docs" / "rules.md").read_text() == catalogue(shipped_pack())


def test_the_catalogue_says_where_each_rule_runs_and_what_it_reads():
    from service.rules import EVALUATORS
    from service.rules_markdown import catalogue

    assert set(load_pack(PACK_DIR).kinds) == set(EVALUATORS)  # every kind of rule says what it reads
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in catalogue(shipped_pack()).splitlines()}
    assert {rule.id for rule in shipped_pack().rules} <= set(rows)
    assert rows["DDI-02"][2] == "order-select, order-sign"  # allopurinol: order hooks only, not patient-view
    assert rows["DDI-01"][2] == "patient-view, order-select, order-sign"
    assert "allopurinol" in rows["DDI-02"][5] and "uloric-label" in rows["DDI-01"][6]


def test_every_rule_that_reads_dated_results_says_how_far_back():
    """A rule that reads lab results, weights or immunizations declares `lookback_days`, and one that reads none
    does not, so that the prefetch horizon covers what each reads."""
    from service.rules import result_searches

    reading = {"MON-01", "MON-02", "MON-03", "PREC-06", "MON-05", "DOSE-01", "DOSE-02", "DOSE-03", "DOSE-04",
               "DOSE-05", "DATA-03", "CI-03", "PREC-01", "DDI-09"}  # fmt: skip
    for rule in shipped_pack().rules:
        assert ("lookback_days" in rule.parameters) == bool(result_searches(rule)) == (rule.id in reading), rule.id
