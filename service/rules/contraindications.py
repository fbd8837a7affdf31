"""Contraindications and precautions: allergy, conditions, prior alkylating agents in RA, new-start counselling."""

from __future__ import annotations

from datetime import timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.record.model import COUNTABLE
from service.record.therapy import focus_therapy
from service.rules.common import basis, focus_uses, indication, is_new_start
from service.rules.findings import Finding


def _finding(rule: Rule, record: PatientRecord, variant: str, values: dict, extra=()) -> list[Finding]:
    use = focus_uses(rule, record)[0]
    return [
        Finding(
            rule.id,
            variant,
            {"drug_label": use.label, **values},
            basis=(basis(use), *extra),
            draft_reference=use.reference if use.is_draft and use.resource_id else None,
        )
    ]


def allergy(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """CI-01: a current allergy or intolerance to the drug or a cross-sensitive one."""
    if not focus_uses(rule, record):
        return []
    wanted = rule.interactants | {rule.drug}
    entries = [entry for entry in record.allergies if entry.is_current and entry.concepts & wanted]
    if not entries:
        return []
    substance = pack.concepts[min(entries[0].concepts & wanted)].display
    return _finding(rule, record, "allergy", {"substance": substance, "allergy_text": entries[0].text or substance})


def condition(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """A current condition from the rule's list (or a recent positive test for it); optionally only with an RA
    indication."""
    uses = focus_uses(rule, record)
    if not uses:
        return []
    wanted = set(rule.param("conditions"))
    present = record.has_condition(wanted)
    test = None if present else _positive_test(rule, record, rule.parameters.get("positive_test"))
    if not (present or test):
        return []
    needs_ra = rule.parameters.get("only_with_indication")
    if needs_ra and indication(uses[0], record, pack) != needs_ra:
        return []
    entry = record.condition_entry(wanted)
    if entry and record.hook in rule.parameters.get("only_when_news", ()) and not _is_news(rule, record, entry):
        return []
    if entry is None:
        return _finding(rule, record, "present", {"condition_text": test})
    if not entry.text:
        entry.text = pack.concepts[min(entry.current & wanted)].display
    return _finding(
        rule, record, "present", {"condition_text": entry.describe()}, _window_basis(rule, entry, wanted, pack, record)
    )


def _is_news(rule: Rule, record: PatientRecord, entry) -> bool:
    """The condition is news to the prescriber: this order starts, restarts or changes the drug, or the condition was
    recorded after the last order of the drug was written (undated conditions are treated as news)."""
    therapy = focus_therapy(record, rule.drug)
    if therapy.is_news:
        return True
    decided = therapy.previous.start if therapy.previous else None
    return entry.when is None or decided is None or entry.when > decided


def _window_basis(rule: Rule, entry, wanted: set[str], pack: KnowledgePack, record: PatientRecord) -> tuple[str, ...]:
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


def _positive_test(rule: Rule, record: PatientRecord, spec: dict | None) -> str | None:
    """A positive qualitative hCG, or a quantitative one above the pack's cut-off, within the pack's window."""
    if not spec:
        return None
    window = timedelta(days=spec["within_days"])
    quantitative = spec.get("quantitative") or {}
    for result in record.labs:
        if result.effective is None or record.now - result.effective > window or result.status not in COUNTABLE:
            continue
        if result.analyte == spec["analyte"] and _says_positive(result.text, spec):
            return rule.phrase("positive-test", date=result.effective.date())
        above = quantitative.get("above")
        above_limit = above is not None and result.value is not None and result.value > above
        if result.analyte == quantitative.get("analyte") and above_limit:
            return rule.phrase(
                "quantitative-test", value=f"{result.value:.0f}", date=result.effective.date(), limit=above
            )
    return None


def _says_positive(words: str, spec: dict) -> bool:
    """The result's text says one of the rule's positive words and none of its negative ones."""
    positive = any(word in words for word in spec["positive_words"])
    return positive and not any(word in words for word in spec["negative_words"])


def prior_drug(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """CI-02: RA indication and any past or present use of an alkylating agent."""
    uses = focus_uses(rule, record)
    if not uses or indication(uses[0], record, pack) != rule.param("only_with_indication"):
        return []
    prior = [use for use in record.medications + record.drafts if use.concepts & rule.interactants]
    if not prior:
        return []
    other = pack.concepts[min(prior[0].concepts & rule.interactants)].display
    return _finding(rule, record, "prior-use", {"other_drug": other, "other_label": prior[0].label}, (basis(prior[0]),))


def new_start(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """PREC-05: counselling points at every new start."""
    if not focus_uses(rule, record) or not is_new_start(record, rule.drug):
        return []
    return _finding(rule, record, "new-start", {})
