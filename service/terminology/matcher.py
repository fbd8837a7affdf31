"""Match FHIR CodeableConcepts against the pack's value sets: by code first, by text when no code matches."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import orjson

from service.knowledge import Code, KnowledgePack
from service.terminology.names import NameReader
from service.terminology.units import factor_table

# Other spellings of the code-system URIs seen in EHR payloads (OIDs are common in C-CDA-derived data).
SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "https://www.nlm.nih.gov/research/umls/rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "urn:oid:2.16.840.1.113883.6.1": "http://loinc.org",
    "https://loinc.org": "http://loinc.org",
    "urn:oid:2.16.840.1.113883.6.73": "http://www.whocc.no/atc",
    "urn:oid:2.16.840.1.113883.6.96": "http://snomed.info/sct",
    "urn:oid:2.16.840.1.113883.6.90": "http://hl7.org/fhir/sid/icd-10-cm",
}
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"  # hierarchical: a pack code stands for every code below it
SYSTEM_LABELS = {
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://snomed.info/sct": "SNOMED",
    ICD10CM: "ICD-10-CM",
    "http://loinc.org": "LOINC",
    "http://hl7.org/fhir/sid/cvx": "CVX",
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
    code_label: str = ""  # "SNOMED 34000006": the coding that matched, for naming what was found
    history: frozenset[str] = frozenset()  # concepts a name gave as history ("Past pregnancy history of ...")


class Terminology:
    """Lookup tables built once from the pack; every method is a pure function of its input."""

    def __init__(self, pack: KnowledgePack):
        self._by_code: dict[tuple[str, str], tuple[str, Code]] = {}
        synonyms: dict[str, str] = {}
        for concept in pack.concepts.values():
            for code in concept.codes:
                key = code.code.replace(".", "") if code.system == ICD10CM else code.code
                self._by_code[(code.system, key)] = (concept.id, code)
            for word in concept.text:
                synonyms[word] = concept.id
        # Lab results are converted to the analyte's canonical unit with this table (generic and own factors).
        self.unit_factors = {c.id: factor_table(c.unit, c.conversions) for c in pack.concepts.values() if c.unit}
        self.qualitative = frozenset(c.id for c in pack.concepts.values() if c.qualitative)
        self._synonyms = synonyms
        # One-word synonyms are found by splitting the text into words (fast); phrases need a (small) regex.
        self._words = {word for word in synonyms if re.fullmatch(r"[a-z0-9]+", word)}
        phrases = sorted((w for w in synonyms if w not in self._words), key=len, reverse=True)
        self._phrases = re.compile(rf"\b(?:{'|'.join(map(re.escape, phrases))})\b") if phrases else None
        # Names repeat across calls (the same lab and drug displays); the scan is pure, so remember recent ones.
        self._scan_text = lru_cache(maxsize=8192)(self._scan_text_uncached)
        self._matches: dict[bytes, Match | None] = {}
        self._names = NameReader(pack)
        self._read_name = lru_cache(maxsize=8192)(self._read_name_uncached)

    def match_entry(self, codeable: object, extra_text: Iterable[str] = ()) -> Match | None:
        """A problem-list or allergy entry: by code first; by name only as the last resort, negation- and
        history-aware ("Not pregnant" is no pregnancy) and honouring each concept's exclusions."""
        codings, texts = _codings_and_texts(codeable, extra_text)
        return self._match_codes(codings) or next(filter(None, (self._read_name(t[:500]) for t in texts)), None)

    def _read_name_uncached(self, text: str) -> Match | None:
        reading = self._names.read(text)
        if reading is None:
            return None
        return Match(concepts=reading.concepts, evidence=f"name '{text[:60]}'", history=reading.history)

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
        codings, texts = _codings_and_texts(codeable, extra_text)
        return self._match_codes(codings) or self._match_text(texts)

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
        label = SYSTEM_LABELS.get(first.system) or first.system.rsplit("/", 1)[-1].upper()
        sent = next(c["code"].strip() for c in codings if self._lookup(c) == hits[0])  # "K50.90", not the pack's K50
        return Match(
            concepts=frozenset(concept for concept, _ in hits),
            evidence=f"{label} code {sent}",
            strength_mg=strengths.pop() if len(strengths) == 1 else None,
            unverified=all(code.status == "K" for _, code in hits),
            code_label=f"{label} {sent}",
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
        if system == ICD10CM:
            compact = code.replace(".", "").strip().upper()
            for length in range(len(compact), 2, -1):  # K50.90 -> K5090, K509, K50
                hit = self._by_code.get((system, compact[:length]))
                if hit:
                    return hit
            return None
        return self._by_code.get((system, code.strip()))


def _codings_and_texts(codeable: object, extra_text: Iterable[str]) -> tuple[list[dict], list[str]]:
    """A CodeableConcept's codings, and its texts in the order names are tried: text, displays, then extra text."""
    codeable = codeable if isinstance(codeable, dict) else {}
    codings = [c for c in _list(codeable.get("coding")) if isinstance(c, dict)]
    texts = [codeable.get("text"), *(c.get("display") for c in codings), *extra_text]
    return codings, [t for t in texts if isinstance(t, str) and t]


def _list(value: object) -> list:
    return value if isinstance(value, list) else []
