"""Match FHIR CodeableConcepts against the pack's value sets: by code first, by text when no code matches."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from service.knowledge import Code, KnowledgePack

# Other spellings of the code-system URIs seen in EHR payloads (OIDs are common in C-CDA-derived data).
SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "https://www.nlm.nih.gov/research/umls/rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "urn:oid:2.16.840.1.113883.6.1": "http://loinc.org",
    "https://loinc.org": "http://loinc.org",
    "urn:oid:2.16.840.1.113883.6.73": "http://www.whocc.no/atc",
}


WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Match:
    """What a coded or textual concept was recognised as, and how (shown on cards)."""

    concepts: frozenset[str]
    evidence: str
    strength_mg: float | None = None
    unverified: bool = False


class Terminology:
    """Lookup tables built once from the pack; every method is a pure function of its input."""

    def __init__(self, pack: KnowledgePack):
        self._by_code: dict[tuple[str, str], tuple[str, Code]] = {}
        synonyms: dict[str, str] = {}
        for concept in pack.concepts.values():
            for code in concept.codes:
                self._by_code[(code.system, code.code)] = (concept.id, code)
            for word in concept.text:
                synonyms[word] = concept.id
        self._synonyms = synonyms
        # One-word synonyms are found by splitting the text into words (fast); phrases need a (small) regex.
        self._words = {word for word in synonyms if re.fullmatch(r"[a-z0-9]+", word)}
        phrases = sorted((w for w in synonyms if w not in self._words), key=len, reverse=True)
        self._phrases = re.compile(rf"\b(?:{'|'.join(map(re.escape, phrases))})\b") if phrases else None

    def match(self, codeable: object, extra_text: Iterable[str] = ()) -> Match | None:
        """Recognise a CodeableConcept (R4, STU3 or DSTU2 shape); tolerate any malformed input."""
        codeable = codeable if isinstance(codeable, dict) else {}
        codings = [c for c in _list(codeable.get("coding")) if isinstance(c, dict)]
        found = self._match_codes(codings)
        if found:
            return found
        texts = [codeable.get("text"), *(c.get("display") for c in codings), *extra_text]
        return self._match_text(t for t in texts if isinstance(t, str) and t)

    def code_match(self, codings: Iterable[dict]) -> tuple[str, str] | None:
        """The (concept id, code) of the first coding found in the pack, for labs and orders."""
        for coding in codings:
            hit = self._lookup(coding)
            if hit:
                return hit[0], hit[1].code
        return None

    def _match_codes(self, codings: list[dict]) -> Match | None:
        hits = [hit for hit in map(self._lookup, codings) if hit]
        if not hits:
            return None
        strengths = {code.strength_mg for _, code in hits if code.strength_mg}
        first = hits[0][1]
        label = "RxNorm" if "rxnorm" in first.system else first.system.rsplit("/", 1)[-1].upper()
        return Match(
            concepts=frozenset(concept for concept, _ in hits),
            evidence=f"{label} code {first.code}",
            strength_mg=strengths.pop() if len(strengths) == 1 else None,
            unverified=all(code.status == "K" for _, code in hits),
        )

    def _match_text(self, texts: Iterable[str]) -> Match | None:
        for text in texts:
            lowered = text.lower()
            found = [word for word in WORD.findall(lowered) if word in self._words]
            if self._phrases:
                found += self._phrases.findall(lowered)
            if found:
                concepts = frozenset(self._synonyms[word] for word in found)
                return Match(concepts=concepts, evidence=f"name '{text[:60]}'")
        return None

    def _lookup(self, coding: dict) -> tuple[str, Code] | None:
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            return None
        system = SYSTEM_ALIASES.get(system.rstrip("/"), system.rstrip("/"))
        return self._by_code.get((system, code.strip()))


def _list(value: object) -> list:
    return value if isinstance(value, list) else []
