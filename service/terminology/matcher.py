"""Match FHIR CodeableConcepts against the pack's value sets: by code first, by text when no code matches."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import orjson

from service.knowledge import Code, KnowledgePack
from service.terminology.units import factor_table

# Other spellings of the code-system URIs seen in EHR payloads (OIDs are common in C-CDA-derived data).
SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "https://www.nlm.nih.gov/research/umls/rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "urn:oid:2.16.840.1.113883.6.1": "http://loinc.org",
    "https://loinc.org": "http://loinc.org",
    "urn:oid:2.16.840.1.113883.6.73": "http://www.whocc.no/atc",
}


WORD = re.compile(r"[a-z0-9]+")
MATCH_CACHE_SIZE = 16384  # distinct concepts remembered per process


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
        # Lab results are converted to the analyte's canonical unit with this table (generic and own factors).
        self.unit_factors = {c.id: factor_table(c.unit, c.conversions) for c in pack.concepts.values() if c.unit}
        self._synonyms = synonyms
        # One-word synonyms are found by splitting the text into words (fast); phrases need a (small) regex.
        self._words = {word for word in synonyms if re.fullmatch(r"[a-z0-9]+", word)}
        phrases = sorted((w for w in synonyms if w not in self._words), key=len, reverse=True)
        self._phrases = re.compile(rf"\b(?:{'|'.join(map(re.escape, phrases))})\b") if phrases else None
        # Names repeat across calls (the same lab and drug displays); the scan is pure, so remember recent ones.
        self._scan_text = lru_cache(maxsize=8192)(self._scan_text_uncached)
        self._matches: dict[bytes, Match | None] = {}

    def _match_cached(self, key: bytes, codeable: object, extra_text: tuple[str, ...]) -> Match | None:
        try:
            return self._matches[key]
        except KeyError:
            found = self._match_uncached(codeable, extra_text)
            if len(self._matches) >= MATCH_CACHE_SIZE:
                self._matches.clear()  # crude but bounded; a full cache refills within a few calls
            self._matches[key] = found
            return found

    def match(self, codeable: object, extra_text: Iterable[str] = ()) -> Match | None:
        """Recognise a CodeableConcept (R4, STU3 or DSTU2 shape); tolerate any malformed input."""
        extra_text = tuple(extra_text)
        try:  # the same concepts arrive call after call; their serialised form is a cheap, exact cache key
            key = orjson.dumps([codeable, extra_text], option=orjson.OPT_SORT_KEYS)
        except TypeError:  # not JSON (e.g. an integer beyond 64 bits): match without the cache
            return self._match_uncached(codeable, extra_text)
        return self._match_cached(key, codeable, extra_text)

    def _match_uncached(self, codeable: object, extra_text: tuple[str, ...]) -> Match | None:
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
            found = self._scan_text(text)
            if found:
                return found
        return None

    def _scan_text_uncached(self, text: str) -> Match | None:
        lowered = text.lower()
        found = [word for word in WORD.findall(lowered) if word in self._words]
        if self._phrases:
            found += self._phrases.findall(lowered)
        if not found:
            return None
        return Match(concepts=frozenset(self._synonyms[word] for word in found), evidence=f"name '{text[:60]}'")

    def _lookup(self, coding: dict) -> tuple[str, Code] | None:
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            return None
        exact = self._by_code.get((system, code))  # most codings use the canonical system URI as it is
        if exact:
            return exact
        system = SYSTEM_ALIASES.get(system.rstrip("/"), system.rstrip("/"))
        return self._by_code.get((system, code.strip()))


def _list(value: object) -> list:
    return value if isinstance(value, list) else []
