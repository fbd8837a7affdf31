"""TPMT and NUDT15 phenotypes from lab results, in the shapes labs send: Genomics Reporting IG genotype, haplotype and
implication Observations (STU1-STU3), TPMT/NUDT15 LOINC results, diplotypes in any value, reported phenotypes in
words, and numeric TPMT activity with the lab's own flag or range.

Every code and word comes from the pack (`valuesets/genomics.json`, `valuesets/labs.json`); diplotypes become
phenotypes through CPIC's own tables. Reading order per result: a coded answer, an activity measurement, a diplotype,
then words, negation-aware. A result that says none of these clearly is "on file but not interpretable", never a
guessed phenotype. Results that disagree give the more cautious phenotype, and both are named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from service.fhir.values import as_dicts
from service.knowledge import KnowledgePack
from service.record.clinical import effective_time
from service.record.daily_dose import Wording
from service.record.diplotypes import CpicPhenotypes
from service.record.model import Phenotype

NOT_A_RESULT = {"entered-in-error", "cancelled", "preliminary", "registered"}
NEGATION_BEFORE = re.compile(r"\b(no|not|negative for|without|absence of|rule[sd]? out)\b[^.;,]{0,30}$", re.I)
NEGATION_AFTER = re.compile(r"^[^.;,]{0,15}\b(absent|not detected|not found|excluded|ruled out)\b", re.I)


@dataclass
class GenomicsFindings:
    phenotypes: dict[str, Phenotype] = field(default_factory=dict)
    has_result: bool = False  # any TPMT or NUDT15 result, interpretable or not
    uninterpretable: dict[str, str] = field(default_factory=dict)  # gene -> the result that could not be read


@dataclass(frozen=True)
class _Reading:
    phenotype: str | None
    evidence: str
    method: str
    note: str = ""
    from_activity: bool = False


class GenomicsReader:
    """Built once per knowledge pack; `read` is a pure function of one call's Observations."""

    def __init__(self, pack: KnowledgePack):
        self._cpic = CpicPhenotypes(pack)
        self._phrase = pack.phrase
        concepts, reading = pack.concepts, pack.genomics_reading
        gene_concepts = reading["genes"]
        self._gene_codes = {code.code.upper(): concepts[g].display for g in gene_concepts for code in concepts[g].codes}
        self._gene_codes |= {code.split(":")[-1]: gene for code, gene in list(self._gene_codes.items())}
        self._gene_words = {concepts[g].display: _words(concepts[g].text) for g in gene_concepts}
        self._codes = {name: {c.code for c in concepts[name].codes} for name in reading["result_codes"]}
        self._gene_studied_codes = self._codes[reading["gene_studied"]]
        self._implication_codes = self._codes[reading["implication"]]
        self._activity_codes = self._codes[reading["activity"]]
        self._all_gene_codes = set().union(*(self._codes[name] for name in reading["all_gene_results"]))
        self._one_gene_codes = {
            concepts[gene].display: set().union(*(self._codes[name] for name in results))
            for gene, results in reading["one_gene_results"].items()
        }
        self._lab_codes = {code.code for search in ("labs", "weights") for code in pack.observation_codes(search)}
        self._pgx_codes = frozenset().union(*self._codes.values())
        answers, flags = pack.groups[reading["answers"]], pack.groups[reading["activity_flags"]]
        self._answers = {c.code: concepts[member].display for member in answers for c in concepts[member].codes}
        self._phrases = sorted(((text, concepts[member].display) for member in answers
                                for text in concepts[member].text), key=lambda pair: -len(pair[0]))  # fmt: skip
        self._flags = {c.code: concepts[member].display for member in flags for c in concepts[member].codes}
        self._activity_words = _words(concepts[reading["activity"]].text)
        self._any_gene = _words(tuple(word for g in gene_concepts for word in concepts[g].text))
        # Lab names repeat across results and calls (a long record holds hundreds of the same few): remember them.
        self._names_gene = lru_cache(maxsize=8192)(lambda text: self._any_gene.search(text) is not None)
        self.table_version = self._cpic.version
        # CPIC's terms as the pack displays them: the order in which disagreeing results give way, and the three
        # phenotypes an activity measurement can read as
        self._caution = tuple(concepts[c].display for c in pack.caution)
        reads = reading["activity_reads"]
        self._poor, self._intermediate, self._normal = (
            concepts[reads[key]].display for key in ("none", "below_range", "in_range")
        )

    def read(self, observations: Iterable[dict]) -> GenomicsFindings:
        """`observations` may hold a result twice (two searches returned it): it is read once."""
        candidates = _distinct(o for o in observations if isinstance(o, dict) and self._may_be_pgx(o))
        results = [o for o in candidates if not _one_of(o.get("status"), NOT_A_RESULT)]
        named = [(observation, self._genes(observation)) for observation in results]
        genes_by_id = {o["id"]: genes for o, genes in named if genes and isinstance(o.get("id"), str)}
        readings: dict[str, list[_Reading]] = {}
        found = GenomicsFindings()
        for observation, own_genes in named:
            genes = own_genes or self._linked_genes(observation, genes_by_id)
            if not genes:
                continue
            found.has_result = True
            for gene in genes:
                reading = self._reading(observation, gene, len(genes) > 1)
                readings.setdefault(gene, []).append(reading)
        for gene, gene_readings in readings.items():
            read = [r for r in gene_readings if r.phenotype]
            if read:
                found.phenotypes[gene] = _combined(gene, read, self._caution, self._phrase)
            else:
                found.uninterpretable[gene] = "; ".join(f"{r.evidence}: {r.note}" for r in gene_readings)
        return found

    def _may_be_pgx(self, observation: dict) -> bool:
        """A cheap first look, one pass over the codings: most results of a long record are ordinary labs with one
        LOINC code and no gene name."""
        if observation.get("component"):
            return True
        code = observation.get("code")
        if not isinstance(code, dict):
            return False
        coding = code.get("coding")
        names, known_lab = [code.get("text")], False
        for part in coding if isinstance(coding, list) else ():
            value = part.get("code") if isinstance(part, dict) else None
            if isinstance(value, str):
                if value in self._pgx_codes:
                    return True
                known_lab = known_lab or value in self._lab_codes
            names.append(part.get("display") if isinstance(part, dict) else None)
        if known_lab:
            return False  # a lab value the pack knows (a blood count, a liver test): not a genetic result
        return any(self._names_gene(text) for text in names if isinstance(text, str))

    def _genes(self, observation: dict) -> list[str]:
        """The genes a result is about: its gene-studied component first, else its code (LOINC or words)."""
        genes: list[str] = []
        for component in as_dicts(observation.get("component")) if observation.get("component") else ():
            if _codes(component.get("code")) & self._gene_studied_codes:
                value = component.get("valueCodeableConcept")
                genes += [self._gene_codes[c.upper()] for c in _codes(value) if c.upper() in self._gene_codes]
                genes += [gene for gene, words in self._gene_words.items() if _mentions(_texts(value), words)]
        if genes:
            return list(dict.fromkeys(genes))
        code = observation.get("code")
        codes = _codes(code)
        if codes & self._all_gene_codes:
            return list(self._gene_words)
        one_gene = [gene for gene, gene_codes in self._one_gene_codes.items() if codes & gene_codes]
        if one_gene:
            return one_gene
        names = _names(code)  # most results are ordinary labs: one cheap search over their names first
        if not names or not self._any_gene.search(names):
            return []
        return [gene for gene, words in self._gene_words.items() if words.search(names)]

    def _linked_genes(self, observation: dict, genes_by_id: dict[str, list[str]]) -> list[str]:
        """An implication that names no gene takes it from the genotype it was derived from (same call's data)."""
        if not observation.get("derivedFrom") or not self._is_implication(observation):
            return []
        linked = []
        for reference in as_dicts(observation.get("derivedFrom")):
            target = reference.get("reference")
            if isinstance(target, str):
                linked += genes_by_id.get(target.rsplit("/", 1)[-1], [])
        return list(dict.fromkeys(linked))

    def _is_implication(self, observation: dict) -> bool:
        if _codes(observation.get("code")) & self._implication_codes:
            return True
        components = as_dicts(observation.get("component"))
        return any(_codes(component.get("code")) & self._implication_codes for component in components)

    def _reading(self, observation: dict, gene: str, several_genes: bool) -> _Reading:
        when = effective_time(observation)
        evidence = f"Observation/{observation.get('id', '?')} ({when.date() if when else self._phrase('undated')})"
        values = [observation.get("valueCodeableConcept"), observation.get("valueString")]
        values += [
            c.get(k) for c in as_dicts(observation.get("component")) for k in ("valueCodeableConcept", "valueString")
        ]
        answer = next((self._answers[c] for v in values for c in sorted(_codes(v)) if c in self._answers), None)
        if answer:
            return _Reading(answer, evidence, self._phrase("record-read-reported"))
        activity = self._activity(observation)
        if activity:
            return _Reading(activity[0], evidence, activity[1], from_activity=True)
        text = " ".join(t for v in values for t in ([v] if isinstance(v, str) else _texts(v)))
        diplotype = self._cpic.read(gene, text, named_only=several_genes)
        if diplotype and diplotype.phenotype:
            method = self._phrase("record-read-genotype", diplotype=diplotype.diplotype)
            return _Reading(diplotype.phenotype, evidence, method, diplotype.problem)
        if diplotype:
            return _Reading(None, evidence, self._phrase("record-read-genotype-only"), diplotype.problem)
        words = None if several_genes else _phenotype_in_words(text, self._phrases)
        if words:
            return _Reading(words, evidence, self._phrase("record-read-reported"))
        shown = text[:80] or self._phrase("record-no-value")
        note = self._phrase("record-pgx-unreadable", gene=gene, shown=shown)
        return _Reading(None, evidence, self._phrase("record-read-result"), note)

    def _activity(self, observation: dict) -> tuple[str, str] | None:
        """TPMT activity with the lab's own interpretation flag or reference range (there are no universal cut-offs)."""
        quantity = observation.get("valueQuantity")
        code = observation.get("code")
        is_activity = _codes(code) & self._activity_codes or self._activity_words.search(_names(code))
        if not is_activity or not isinstance(quantity, dict) or not _number(quantity.get("value")):
            return None
        value = float(quantity["value"])
        unit = next((u for u in (quantity.get("unit"), quantity.get("code")) if isinstance(u, str)), "")
        measured = self._phrase("record-activity", value=f"{value:g}", unit=unit).strip()
        flags = [c for concept in as_dicts(observation.get("interpretation")) for c in sorted(_codes(concept))]
        flagged = next((self._flags[flag] for flag in flags if flag in self._flags), None)
        if value == 0:
            return self._poor, self._phrase("record-activity-none", measured=measured)
        if flagged:
            flag = next(f for f in flags if f in self._flags)
            return flagged, self._phrase("record-activity-flag", measured=measured, flag=flag)
        ranges = as_dicts(observation.get("referenceRange"))
        low = next((r["low"].get("value") for r in ranges if isinstance(r.get("low"), dict)), None)
        if isinstance(low, int | float) and _number(low):
            read = self._intermediate if value < low else self._normal
            return read, self._phrase("record-activity-range", measured=measured, low=f"{low:g}")
        return None


def _combined(gene: str, readings: list[_Reading], caution: tuple[str, ...], wording: Wording) -> Phenotype:
    """One phenotype per gene: the most cautious reading (`caution`, most cautious first), naming any result that
    says otherwise."""
    ranked = sorted(readings, key=lambda r: caution.index(r.phenotype) if r.phenotype in caution else len(caution))
    chosen = ranked[0]
    assert chosen.phenotype is not None  # given the readings that name a phenotype only
    others = [r for r in ranked[1:] if r.phenotype != chosen.phenotype]
    conflict = "; ".join(
        wording("record-pgx-conflict", evidence=r.evidence, method=r.method, phenotype=r.phenotype) for r in others
    )
    return Phenotype(
        gene, chosen.phenotype, chosen.evidence, chosen.method, chosen.note, conflict, chosen.from_activity
    )


def _phenotype_in_words(text: str, phrases: list[tuple[str, str]]) -> str | None:
    """A phenotype stated in words, not negated; None when none is, or when two different ones are."""
    found, masked = set(), text.lower()
    for phrase, phenotype in phrases:  # longest first: "possible intermediate" hides "intermediate"
        for match in re.finditer(rf"\b{re.escape(phrase)}\b", masked):
            before, after = masked[: match.start()], masked[match.end() :]
            if not (NEGATION_BEFORE.search(before) or NEGATION_AFTER.search(after)):
                found.add(phenotype)
        masked = re.sub(rf"\b{re.escape(phrase)}\b", " ", masked)
    return found.pop() if len(found) == 1 else None


def _one_of(value: object, choices: set[str]) -> bool:
    return isinstance(value, str) and value in choices


def _words(words: tuple[str, ...]) -> re.Pattern:
    """One pattern for a concept's text synonyms, compiled once: every lab result of a call is checked against it."""
    return re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\b", re.IGNORECASE)


def _mentions(texts: list[str], words: re.Pattern) -> bool:
    return any(words.search(text) for text in texts)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value and value >= 0


def _codes(concept: object) -> set[str]:
    if not isinstance(concept, dict):
        return set()
    return {c["code"] for c in as_dicts(concept.get("coding")) if isinstance(c.get("code"), str)}


def _names(concept: object) -> str:
    """A CodeableConcept's text and displays, as one string to search."""
    if not isinstance(concept, dict):
        return ""
    names = [concept.get("text")] + [coding.get("display") for coding in as_dicts(concept.get("coding"))]
    return " | ".join(name for name in names if isinstance(name, str))


def _texts(concept: object) -> list[str]:
    if not isinstance(concept, dict):
        return []
    texts = [concept.get("text")] + [c.get(k) for c in as_dicts(concept.get("coding")) for k in ("display", "code")]
    return [t for t in texts if isinstance(t, str)]


def _distinct(observations: Iterable[dict]) -> list[dict]:
    """Each result once, by id (those without one are all kept)."""
    seen: set[str] = set()
    found = []
    for observation in observations:
        ident = observation.get("id")
        if isinstance(ident, str):
            if ident in seen:
                continue
            seen.add(ident)
        found.append(observation)
    return found
