"""Reading a problem-list name the way a clinician would, for the last resort of matching by name.

"Not pregnant" is not a pregnancy, "Past pregnancy history of miscarriage" is history, "Malignant hypertension" is
not a malignancy and "Mother currently breast-feeding" is breastfeeding. A name is split into clauses; a synonym
counts unless a negation precedes it closely in its clause (or a ruling-out word follows it), and it is marked as
history when a history word precedes it. A concept's `exclude` phrases anywhere in the name rule the concept out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.knowledge import KnowledgePack

WORD = re.compile(r"[a-z0-9]+")
CLAUSE = re.compile(r"[,;:.()\[\]]|\bbut\b|\bexcept\b")
NEGATED_BEFORE = frozenset(
    {"no", "not", "without", "denies", "denied", "never", "negative", "free", "absence", "absent"}
)
NEGATED_AFTER = frozenset({"excluded", "negative", "unlikely", "ruled", "denied", "absent"})
HISTORY_BEFORE = frozenset({"history", "hx", "past", "previous", "prior", "former", "resolved", "remote"})
OTHER_PERSON = frozenset({"family", "fh"})  # "family history of cancer" is about someone else
NEGATION_REACH = 4  # words before a synonym that a negation reaches ("no known history of cancer")
AFTER_REACH = 3


@dataclass(frozen=True)
class NameReading:
    concepts: frozenset[str]
    history: frozenset[str]  # of those, the concepts the name gives as history ("history of", "past")


def words(text: str) -> tuple[str, ...]:
    return tuple(WORD.findall(text.lower()))


class NameReader:
    """Synonyms as word sequences (so "breast-feeding" and "breast feeding" read the same), built once."""

    def __init__(self, pack: KnowledgePack):
        self._synonyms: dict[tuple[str, ...], str] = {}
        self._exclusions: dict[str, tuple[str, ...]] = {}
        for concept in pack.concepts.values():
            for synonym in concept.text:
                self._synonyms.setdefault(words(synonym), concept.id)
            if concept.exclude:
                self._exclusions[concept.id] = tuple(f" {' '.join(words(p))} " for p in concept.exclude)
        self._longest = max((len(s) for s in self._synonyms), default=0)

    def read(self, text: str) -> NameReading | None:
        lowered = text.lower().replace("h/o", "history of")
        whole = f" {' '.join(words(lowered))} "
        found: dict[str, bool] = {}  # concept -> only ever read as history
        for clause in CLAUSE.split(lowered):
            tokens = words(clause)
            index = 0
            while index < len(tokens):
                concept, length = self._synonym_at(tokens, index)
                if concept is None:
                    index += 1
                    continue
                before = set(tokens[max(0, index - NEGATION_REACH) : index])
                after = set(tokens[index + length : index + length + AFTER_REACH])
                ruled_out = before & NEGATED_BEFORE or after & NEGATED_AFTER or before & OTHER_PERSON
                excluded = any(phrase in whole for phrase in self._exclusions.get(concept, ()))
                if not ruled_out and not excluded:
                    history = bool(set(tokens[:index]) & HISTORY_BEFORE)
                    found[concept] = found.get(concept, True) and history
                index += length
        if not found:
            return None
        return NameReading(frozenset(found), frozenset(c for c, history in found.items() if history))

    def _synonym_at(self, tokens: tuple[str, ...], index: int) -> tuple[str | None, int]:
        for length in range(min(self._longest, len(tokens) - index), 0, -1):
            concept = self._synonyms.get(tokens[index : index + length])
            if concept:
                return concept, length
        return None, 0
