"""The knowledge pack's types, read-only once loaded: codes, concepts, rules, tables, and the pack itself, with
the limits card templates must keep (CDS Hooks 2.0: a summary under 140 characters)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from service.errors import SetupError

SUMMARY_LIMIT = 140  # CDS Hooks 2.0: summary is a "<140-character" sentence

# Placeholders a summary may use, with the longest value each can take. Anything free-text from the EHR
# is kept out of summaries so that the 140-character limit holds for every patient.
SUMMARY_PLACEHOLDER_WIDTH = {
    "drug": 40,  # concept displays are capped at 40 characters by the value-set schema
    "draft_drug": 40,
    "other_drug": 40,
    "coumarin": 40,
    "substance": 40,
    "tpmt": 33,  # the longest CPIC phenotype, "Possible Intermediate Metabolizer"
    "nudt15": 33,
    "days_since": 5,
    "interval_days": 3,
    "window_days": 3,
    "mg_per_kg": 6,
    "maximum": 4,
    "limit": 5,
    "age": 3,
    "egfr_value": 4,
    "headline": 90,  # MON-03 / PREC-06: the first result found, cut to this width by the rule
    "lookback_days": 4,
}

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def fill(template: str, values: Mapping[str, object]) -> str:
    """Replace `{name}` placeholders; a missing value is a pack/evaluator mismatch and raises KeyError."""
    return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), template)


LEFTOVER = re.compile(r"(?<!\\)\{[^{}\s\\]*\}")  # what a template would show if a placeholder were not filled


class PackError(SetupError):
    """The knowledge pack is invalid; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("knowledge pack invalid:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Code:
    system: str  # full URI
    code: str
    status: str  # V verified, S secondary, K unverified
    display: str = ""
    tty: str = ""
    strength_mg: float | None = None


@dataclass(frozen=True)
class Concept:
    id: str
    display: str
    codes: tuple[Code, ...]
    text: tuple[str, ...] = ()
    unit: str = ""
    conversions: dict[str, float] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()  # phrases that, in a name, mean it is not this concept
    history_counts: bool = False  # a "history of" entry still counts (chronic disease, transplant, malignancy)
    current_for_days: int | None = None  # time-bound: older entries are not current even when never closed
    prefetch: str = ""  # an Observation code: the prefetch search ("labs", "weights", "genomics") that asks for it
    qualitative: bool = False  # a lab read for positive / negative rather than a number (a pregnancy test)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    kind: str
    hooks: frozenset[str]
    indicator: str
    evidence: tuple[dict, ...]
    cards: dict[str, dict[str, str]]
    suggestions: tuple[dict, ...] = ()
    override_reasons: tuple[dict, ...] = ()
    links: tuple[dict, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    drug: str = ""
    interactants: frozenset[str] = frozenset()  # concept ids, groups already expanded
    supersedes: frozenset[str] = frozenset()
    repeat_on_order_sign: bool = False
    variant_indicators: dict[str, str] = field(default_factory=dict)
    phrases: dict[str, str] = field(default_factory=dict)
    escalations: tuple[dict, ...] = ()  # {"if": condition, its fields, "indicator"}, tried in order
    matches: tuple[dict, ...] = ()  # condition-match rules: {"in": where to look, its fields, "card"}, in order

    def indicator_for(self, variant: str) -> str:
        return self.variant_indicators.get(variant, self.indicator)

    def param(self, name: str) -> Any:
        return self.parameters[name]

    def phrase(self, name: str, /, **values: object) -> str:
        """The family's phrase `name` with its `{placeholders}` filled, as plain text: rendering escapes what
        reaches a card. A phrase or value missing is a pack/evaluator mismatch (KeyError; the fixtures run them)."""
        return fill(self.phrases[name], values)


@dataclass(frozen=True)
class Table:
    """A third-party table the pack ships unchanged (e.g. CPIC's diplotype phenotypes), with its provenance."""

    id: str
    source: str
    version: str
    rows: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class KnowledgePack:
    id: str
    version: str
    released: str
    canonical: str
    sources: dict[str, dict]
    concepts: dict[str, Concept]
    groups: dict[str, frozenset[str]]
    rules: tuple[Rule, ...]
    tables: dict[str, Table] = field(default_factory=dict)
    amendments: tuple[dict, ...] = ()
    restart_gap_days: int = 90  # manifest `therapy`: courses of a drug further apart than this are a restart
    indication_precedence: tuple[str, ...] = ()  # manifest `therapy`: the concepts that name an order's indication
    kinds: dict[str, str] = field(default_factory=dict)  # manifest `kinds`: kind of rule -> what it reads
    part_reads: dict[str, str] = field(default_factory=dict)  # manifest `kinds`: a match or report -> what it reads
    phrases: dict[str, str] = field(default_factory=dict)  # manifest `phrases`: the wording every card shares
    caution: tuple[str, ...] = ()  # pharmacogenomic phenotype concepts, most cautious first (valuesets/genomics.json)
    genomics_reading: dict[str, Any] = field(default_factory=dict)  # valuesets/genomics.json `reading`
    timeline_links: frozenset[str] = frozenset()  # manifest: the kinds of rule whose cards link to the timeline

    def phrase(self, name: str, /, **values: object) -> str:
        """A pack-wide phrase with its `{placeholders}` filled, as plain text (as `Rule.phrase`)."""
        return fill(self.phrases[name], values)

    def reads(self, rule: Rule) -> str:
        """What the rule reads from the patient record: its kind's reads, then those of its matches or reports."""
        parts = [match["in"] for match in rule.matches] + list(rule.parameters.get("reports", ()))
        reads = [self.kinds[rule.kind], *(self.part_reads[part] for part in parts)]
        return "; ".join(dict.fromkeys(filter(None, reads)))

    def rules_for(self, hook: str) -> tuple[Rule, ...]:
        return self._rules_by_hook.get(hook, ())

    @cached_property
    def _rules_by_hook(self) -> dict[str, tuple[Rule, ...]]:
        hooks = {hook for rule in self.rules for hook in rule.hooks}
        return {hook: tuple(rule for rule in self.rules if hook in rule.hooks) for hook in hooks}

    @cached_property
    def weight_concept(self) -> str:
        """The body-weight concept: the one Observation code of the `weights` search (`aza-cds knowledge check`)."""
        return next(concept.id for concept in self.concepts.values() if concept.prefetch == "weights")

    @cached_property
    def focus_drugs(self) -> frozenset[str]:
        """The drugs the rules are about (each rule's `drug`): the service reads clinical data only when one is
        involved."""
        return frozenset(rule.drug for rule in self.rules if rule.drug)

    def rule(self, rule_id: str) -> Rule:
        return next(rule for rule in self.rules if rule.id == rule_id)

    def observation_codes(self, search: str) -> tuple[Code, ...]:
        """The codes of every concept the `search` prefetch asks the EHR for by code, in pack order."""
        return tuple(code for c in self.concepts.values() if c.prefetch == search for code in c.codes)
