"""Card rendering never shows a template token, whatever slipped past the knowledge-pack check."""

from __future__ import annotations

import dataclasses
import logging

from helpers import shipped_pack

from service.render.cards import render_card
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
