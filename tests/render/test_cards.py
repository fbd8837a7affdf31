"""Card rendering never shows a template token, whatever slipped past the knowledge-pack check."""

from __future__ import annotations

import dataclasses
import logging

from helpers import FIXTURES, post_json, shipped_pack

from service.render.cards import render_card
from service.replay import load_fixture
from service.rules import Finding


def test_a_token_left_in_a_template_is_not_shown_and_is_logged(caplog):
    pack = shipped_pack()
    rule = pack.rule("PGX-01")
    template = dict(rule.cards["unknown"], detail="TPMT: {tpmt}. NUDT15: {NUDT15}.")  # a token no evaluator fills
    broken = dataclasses.replace(rule, cards={**rule.cards, "unknown": template})
    values = {"tpmt": "Indeterminate", "nudt15": "No Result", "drug_label": "azathioprine", "recommendation": "r",
              "classification": "Strong", "results": "r", "table_version": "v"}  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="aza_cds"):
        card = render_card(pack, broken, Finding("PGX-01", "unknown", values, {"caveat": ""}), "p1")
    assert "{" not in card["summary"] and "{NUDT15}" not in card["detail"] and "(not available)" in card["detail"]
    assert any("PGX-01" in record.getMessage() and "NUDT15" in record.getMessage() for record in caplog.records)


def test_nudt15_is_filled_in_the_summary():
    """The defect that hid the reason for the alert: '{nudt15}' was left in the card (no digits in the pattern)."""
    pack = shipped_pack()
    values = {"tpmt": "Normal Metabolizer", "nudt15": "Poor Metabolizer", "drug_label": "azathioprine",
              "recommendation": "r", "classification": "Strong", "results": "r", "table_version": "v"}  # fmt: skip
    card = render_card(pack, pack.rule("PGX-01"), Finding("PGX-01", "alternative", values, {"caveat": ""}), "p1")
    assert card["summary"].startswith("TPMT Normal Metabolizer, NUDT15 Poor Metabolizer:")


def pgx_card(client, fixture: str) -> dict:
    case = load_fixture(FIXTURES / "rules" / f"{fixture}.json")
    body = post_json(client, f"/cds-services/{case['service']}", case["request"]).get_json()
    return next(card for card in body["cards"] if card["source"]["topic"]["code"] == "PGX-01")


def test_pgx_cards_say_why(client):
    """Each card names the genes, phenotypes and the result behind them (CPIC wording, table version); activity
    results carry CPIC's transfusion caveat; both intermediate follows the March 2024 update (20-50%)."""
    poor = pgx_card(client, "pgx-01-genomics-ig-genotype-tpmt-poor")
    assert poor["summary"].startswith("TPMT Poor Metabolizer, NUDT15 Normal Metabolizer")
    assert "genotype \\*3A/\\*3A, Observation/tpmt" in poor["detail"] and "CPIC data 2025-11-05" in poor["detail"]
    assert "transfusion" not in poor["detail"]
    activity = pgx_card(client, "pgx-01-tpmt-activity-critically-low")
    assert "TPMT activity 2.1 U/mL (flag LL)" in activity["detail"] and "transfusion" in activity["detail"]
    both = pgx_card(client, "pgx-01-both-intermediate-2024-update")
    assert (
        "20-50%" in both["summary"] and "20%-50% of normal dose" in both["detail"] and "30%-80%" not in both["detail"]
    )
    unread = pgx_card(client, "pgx-01-uninterpretable-text")
    assert unread["indicator"] == "info" and "Homozygous variant, deficient activity" in unread["detail"]
    assert [s["label"] for s in unread["suggestions"]] == ["Order TPMT and NUDT15 genotyping"]


def test_ehr_text_cannot_become_a_link_or_markup_in_a_card():
    """Issue 13 (8): bare URLs from EHR text were live links in card details (GitHub-flavoured autolinks)."""
    pack = shipped_pack()
    rule = pack.rule("PREC-05")
    label = "azathioprine <img src=x> see https://evil.example/phish, www.evil.example or help@evil.example [x](y)"
    card = render_card(pack, rule, Finding("PREC-05", "new-start", {"drug_label": label}), "p1")
    detail = card["detail"]
    assert "https://evil" not in detail and "www.evil" not in detail and "help@evil" not in detail
    assert "https\\://evil.example" in detail and "<img" not in detail and "\\[x\\](y)" in detail
    assert "help`@`evil.example" in detail  # GFM finds an address even with "\\@": a code span it cannot enter
