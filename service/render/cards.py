"""Findings to CDS Hooks 2.0 cards: text from the pack, sources cited, pack version on every card."""

from __future__ import annotations

import logging
import uuid

import orjson

from service.knowledge import KnowledgePack, Rule
from service.knowledge.model import LEFTOVER, SUMMARY_LIMIT, fill
from service.render.suggestions import DraftLookup, build_suggestions
from service.render.text import bullet_list, capitalise, escape_markdown
from service.rules import Finding

log = logging.getLogger("aza_cds")


def no_drafts(_position: int, _reference: str) -> dict | None:
    return None


def render_cards(
    pack: KnowledgePack,
    findings: list[tuple[Rule, Finding]],
    patient_id: str,
    drafts: DraftLookup = no_drafts,
    timeline_url: str = "",
) -> list[dict]:
    """`drafts`: finds the call's draft orders, which update suggestions change. `timeline_url`: the SMART launch
    URL of the monitoring timeline, when the app is configured."""
    return [render_card(pack, rule, finding, patient_id, drafts, timeline_url) for rule, finding in findings]


def render_card(
    pack: KnowledgePack,
    rule: Rule,
    finding: Finding,
    patient_id: str,
    drafts: DraftLookup = no_drafts,
    timeline_url: str = "",
) -> dict:
    text, unfilled = rule.cards[finding.variant], pack.phrase("unfilled")
    card = {
        "uuid": str(uuid.uuid4()),
        "summary": _bounded(_no_leftover(rule, capitalise(fill(text["summary"], finding.values)), unfilled)),
        "indicator": finding.indicator or rule.indicator_for(finding.variant),
        "detail": _no_leftover(rule, _detail(pack, rule, finding, text["detail"]), unfilled),
        "source": _source(pack, rule),
    }
    suggestions = build_suggestions(rule, finding, pack, patient_id, drafts)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
    if rule.override_reasons:
        system = f"{pack.canonical}:override-reason"
        card["overrideReasons"] = [
            {"system": system, "code": reason["code"], "display": reason["display"]} for reason in rule.override_reasons
        ]
    links = [
        {"label": link["label"], "url": pack.sources[link["source"]]["url"], "type": "absolute"} for link in rule.links
    ]
    if timeline_url and rule.kind in pack.timeline_links:
        links.append(_timeline_link(pack, rule, finding, timeline_url))
    if links:
        card["links"] = links
    return card


def _timeline_link(pack: KnowledgePack, rule: Rule, finding: Finding, url: str) -> dict:
    """A SMART link: the EHR launches the timeline app, passing `appContext` (the rule and the analyte in focus)."""
    context = {"rule": rule.id, **({"analyte": finding.focus} if finding.focus else {})}
    return {"label": pack.phrase("timeline-link"), "url": url, "type": "smart",
            "appContext": orjson.dumps(context).decode()}  # fmt: skip


def _no_leftover(rule: Rule, text: str, unfilled: str) -> str:
    """Never show a template token: `aza-cds knowledge check` rules them out; should one slip through, the card
    still goes out (it may be a warning) with the token replaced, and the log says which rule to fix."""
    if not LEFTOVER.search(text):
        return text
    log.error("rule %s: a card template left %s unfilled", rule.id, LEFTOVER.findall(text))
    return LEFTOVER.sub(unfilled, text)


def _bounded(summary: str) -> str:
    """`aza-cds knowledge check` proves summaries fit; this guards against implausible values all the same."""
    return summary if len(summary) < SUMMARY_LIMIT else summary[: SUMMARY_LIMIT - 2] + "…"


def _detail(pack: KnowledgePack, rule: Rule, finding: Finding, template: str) -> str:
    values = {name: escape_markdown(value) for name, value in finding.values.items()}
    values |= {name: fill(phrase, values) for name, phrase in finding.phrases.items()}
    if finding.items:
        values["problems"] = bullet_list(finding.items)
    body = capitalise(fill(template, values))
    return body + "\n\n---\n\n" + _footer(pack, rule, finding)


def _footer(pack: KnowledgePack, rule: Rule, finding: Finding) -> str:
    lines = []
    for item in rule.evidence:
        source = pack.sources[item["source"]]
        name = f"[{source['title']}]({source['url']})" if "url" in source else source["title"]
        grade = pack.phrase(f"grade-{item['grade']}")
        lines.append(pack.phrase("footer-source", name=name, grade=grade, supports=item["supports"]))
    if finding.basis:
        lines.append(pack.phrase("footer-data", basis="; ".join(escape_markdown(line) for line in finding.basis)))
    lines.append(pack.phrase("footer-rule", rule=rule.id, pack=pack.id, version=pack.version, released=pack.released))
    return pack.phrase("footer", lines="\n".join(lines))


def _source(pack: KnowledgePack, rule: Rule) -> dict:
    source = {
        "label": pack.phrase("source-label", version=pack.version),
        "topic": {
            "system": f"{pack.canonical}:rule",
            "code": rule.id,
            "display": rule.title,
        },
    }
    primary = next((pack.sources[e["source"]] for e in rule.evidence if "url" in pack.sources[e["source"]]), None)
    if primary:
        source["url"] = primary["url"]
    return source
