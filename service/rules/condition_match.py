"""Condition match: something on file makes the order a risk (a condition, a positive test, an allergy, earlier use
of another drug, a result past a limit, the patient's age), or the order starts the drug at all.

A rule lists what it looks for in `matches`, in order; the first found makes the card that match names. Rule-wide
options narrow when the rule applies: `applies_to` "new-start", `only_with_indication`, and `only_when_news` (the
hooks on which a condition counts only when it is news to the prescriber).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import CodedEntry, MedicationUse, PatientRecord
from service.record.model import COUNTABLE
from service.record.therapy import focus_therapy
from service.rules.common import basis, focus_uses, indication, is_new_start, number
from service.rules.findings import Finding


@dataclass(frozen=True)
class Match:
    """What a match found: the values its card reads, and the lines saying how it was found."""

    values: dict[str, str] = field(default_factory=dict)
    basis: tuple[str, ...] = ()
    quiet: bool = False  # found, but not news: the rule stays silent rather than trying its next match


Matcher = Callable[[Rule, PatientRecord, KnowledgePack, dict], Match | None]


def evaluate(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    uses = focus_uses(rule, record)
    if not uses or not _applies(rule, record, pack, uses[0]):
        return []
    for spec in rule.matches:
        found = MATCHERS[spec["in"]](rule, record, pack, spec)
        if found is None:
            continue
        if found.quiet:
            return []
        use = uses[0]
        cited = (basis(use),) if rule.parameters.get("cite_order", True) else ()
        return [
            Finding(
                rule.id,
                spec["card"],
                {"drug_label": use.label, **found.values},
                basis=(*cited, *found.basis),
                draft_reference=use.reference if use.is_draft and use.resource_id else None,
            )
        ]
    return []


def _applies(rule: Rule, record: PatientRecord, pack: KnowledgePack, use: MedicationUse) -> bool:
    if rule.parameters.get("applies_to") == "new-start" and not is_new_start(record, rule.drug):
        return False
    needs = rule.parameters.get("only_with_indication")
    return not needs or indication(use, record, pack) == needs


def _the_order(rule: Rule, record: PatientRecord, pack: KnowledgePack, spec: dict) -> Match | None:
    """The order itself is the finding (PREC-05: counselling at every new start)."""
    return Match()


def _allergy(rule: Rule, record: PatientRecord, pack: KnowledgePack, spec: dict) -> Match | None:
    """A current allergy or intolerance to the rule's drug or to one of its interactants (cross-sensitive drugs)."""
    wanted = rule.interactants | {rule.drug}
    entries = [entry for entry in record.allergies if entry.is_current and entry.concepts & wanted]
    if not entries:
        return None
    substance = pack.concepts[min(entries[0].concepts & wanted)].display
    return Match({"substance": substance, "allergy_text": entries[0].text or substance})


def _condition(rule: Rule, record: PatientRecord, pack: KnowledgePack, spec: dict) -> Match | None:
    """The most recent current condition of the match's `concepts`."""
    wanted = set(spec["concepts"])
    entry = record.condition_entry(wanted)
    if entry is None:
        return None
    if record.hook in rule.parameters.get("only_when_news", ()) and not _is_news(rule, record, entry):
        return Match(quiet=True)
    if not entry.text:  # a copy: the record is shared by every rule of the call
        entry = replace(entry, text=pack.concepts[min(entry.current & wanted)].display)
    return Match({"condition_text": _described(entry, pack)}, _window_basis(rule, entry, wanted, pack, record))


def _described(entry: CodedEntry, pack: KnowledgePack) -> str:
    """What was found, in the record's own words: "Crohn's disease (SNOMED 34000006, 2026-10-02)"."""
    how = entry.code_label or pack.phrase("entry-by-name")
    when = entry.when.date().isoformat() if entry.when else pack.phrase("entry-undated")
    return pack.phrase("entry-described", text=entry.text, how=how, when=when)


def _is_news(rule: Rule, record: PatientRecord, entry: CodedEntry) -> bool:
    """The condition is news to the prescriber: this order starts, restarts or changes the drug, or the condition was
    recorded after the last order of the drug was written (undated conditions are treated as news)."""
    therapy = focus_therapy(record, rule.drug)
    if therapy.is_news:
        return True
    decided = therapy.previous.start if therapy.previous else None
    return entry.when is None or decided is None or entry.when > decided


def _window_basis(
    rule: Rule, entry: CodedEntry, wanted: set[str], pack: KnowledgePack, record: PatientRecord
) -> tuple[str, ...]:
    """Say so when a time-bound condition was taken as current from its date alone (it was never closed)."""
    lines = []
    for concept_id in sorted(entry.current & wanted):
        window = pack.concepts[concept_id].current_for_days
        if window and entry.when:
            age, concept = (record.now - entry.when).days, pack.concepts[concept_id].display
            lines.append(rule.phrase("window-current", entry=entry.text, age=age, window=window, concept=concept))
        elif window:
            lines.append(rule.phrase("window-undated", entry=entry.text))
    return tuple(lines)


def _positive_test(rule: Rule, record: PatientRecord, pack: KnowledgePack, spec: dict) -> Match | None:
    """A countable qualitative result saying positive, or a quantitative one above the cut-off, within the window."""
    window = timedelta(days=spec["within_days"])
    quantitative = spec.get("quantitative") or {}
    for result in record.labs:
        if result.effective is None or record.now - result.effective > window or result.status not in COUNTABLE:
            continue
        if result.analyte == spec["analyte"] and _says_positive(result.text, spec):
            return Match({"condition_text": rule.phrase("positive-test", date=result.effective.date())})
        above = quantitative.get("above")
        above_limit = above is not None and result.value is not None and result.value > above
        if result.analyte == quantitative.get("analyte") and above_limit:
            text = rule.phrase(
                "quantitative-test", value=f"{result.value:.0f}", date=result.effective.date(), limit=above
            )
            return Match({"condition_text": text})
    return None


def _says_positive(words: str, spec: dict) -> bool:
    """The result's text says one of the match's positive words and none of its negative ones."""
    positive = any(word in words for word in spec["positive_words"])
    return positive and not any(word in words for word in spec["negative_words"])


def _latest_result(rule: Rule, record: PatientRecord, pack: KnowledgePack, spec: dict) -> Match | None:
    """The latest result of `analyte`, from the last `within_days`, below the match's limit (DOSE-05: eGFR)."""
    latest = record.latest(spec["analyte"])
    if latest is None or record.now - latest.effective > timedelta(days=spec["within_days"]):
        return None
    if not latest.value < spec["below"]:
        return None
    shown = f"{latest.value:.{spec['decimals']}f}" if "decimals" in spec else number(latest.value)
    return Match({f"{spec['as']}_value": shown, f"{spec['as']}_date": latest.effective.date().isoformat()})


def _taken_before(rule: Rule, record: PatientRecord, pack: KnowledgePack, spec: dict) -> Match | None:
    """Any use, past or present, of one of the rule's interactants (CI-02: alkylating agents)."""
    prior = [use for use in record.medications + record.drafts if use.concepts & rule.interactants]
    if not prior:
        return None
    other = pack.concepts[min(prior[0].concepts & rule.interactants)].display
    return Match({"other_drug": other, "other_label": prior[0].label}, (basis(prior[0]),))


def _age(rule: Rule, record: PatientRecord, pack: KnowledgePack, spec: dict) -> Match | None:
    """The patient is at least `from` years old."""
    age = record.age_years
    return Match({"age": str(age)}) if age is not None and age >= spec["from"] else None


def _no_pgx_result(rule: Rule, record: PatientRecord, pack: KnowledgePack, spec: dict) -> Match | None:
    """No TPMT or NUDT15 result on file at all, not even one whose phenotype could not be read (MON-04)."""
    return None if record.phenotypes or record.has_pgx_result else Match()


MATCHERS: dict[str, Matcher] = {  # what a match may look in (cards/schemas/rules.schema.json, `matches`)
    "the-order": _the_order,
    "allergies": _allergy,
    "conditions": _condition,
    "positive-test": _positive_test,
    "latest-result": _latest_result,
    "medication-history": _taken_before,
    "age": _age,
    "no-pgx-result": _no_pgx_result,
}
