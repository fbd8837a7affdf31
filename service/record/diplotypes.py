"""TPMT and NUDT15 diplotypes to phenotypes, as CPIC assigns them (the pack's CPIC tables, not a rule of thumb)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.knowledge import KnowledgePack

WILD_TYPE = re.compile(r"\bwild[\s-]?type\b|\bwt\s*/\s*wt\b", re.IGNORECASE)


def _pair_pattern(genes: list[str]) -> re.Pattern:
    """A star-allele pair, each allele optionally preceded by its gene: "*1/*3A", "TPMT *3A/*1", "TPMT*1/TPMT*3C"."""
    names = "|".join(re.escape(gene) for gene in genes)
    return re.compile(
        rf"(?:\b(?P<gene>{names})\b[\s:]*)?\*\s*(?P<first>\d+[A-Z]*)\s*/\s*(?:(?:{names})\s*)?\*\s*(?P<second>\d+[A-Z]*)",
        re.IGNORECASE,
    )


@dataclass(frozen=True)
class DiplotypeReading:
    diplotype: str  # normalised, alleles as CPIC writes them, e.g. "*1/*3A"
    phenotype: str | None  # CPIC's term; None when the text holds no single diplotype for the gene
    problem: str = ""  # why the phenotype is Indeterminate, or why nothing could be read


class CpicPhenotypes:
    """CPIC's diplotype-phenotype and allele-function tables for TPMT and NUDT15, indexed once per pack."""

    def __init__(self, pack: KnowledgePack):
        reading = pack.genomics_reading
        self._pair = _pair_pattern([pack.concepts[gene].display for gene in reading["genes"]])
        self._indeterminate = pack.concepts[reading["indeterminate"]].display
        self._not_interpreted = frozenset(reading["uninterpreted_functions"])
        self._phrase = pack.phrase
        diplotypes = pack.tables["cpic-diplotype-phenotype"]
        self.version = diplotypes.version
        self._phenotypes: dict[tuple[str, str, str], str] = {}
        for row in diplotypes.rows:
            first, second = row["diplotype"].split("/")
            self._phenotypes[(row["gene"], first, second)] = row["phenotype"]
            self._phenotypes[(row["gene"], second, first)] = row["phenotype"]
        self._functions = {
            (row["gene"], row["allele"]): row["function"] for row in pack.tables["cpic-allele-function"].rows
        }

    def read(self, gene: str, text: str, named_only: bool = False) -> DiplotypeReading | None:
        """The diplotype `text` states for `gene` and its phenotype; None when the text names no diplotype at all.
        `named_only`: count only diplotypes written with the gene's name (a result about both genes)."""
        pairs = {
            _ordered(match["first"], match["second"])
            for match in self._pair.finditer(text)
            if (match["gene"] or "").upper() == gene or not (match["gene"] or named_only)
        }
        if not pairs and not named_only and WILD_TYPE.search(text):
            pairs = {("*1", "*1")}
        if not pairs:
            return None
        if len(pairs) > 1:
            shown = ", ".join("/".join(pair) for pair in sorted(pairs))
            return DiplotypeReading(shown, None, self._phrase("record-pgx-diplotypes", gene=gene, shown=shown))
        first, second = pairs.pop()
        diplotype = f"{first}/{second}"
        unlisted = [allele for allele in (first, second) if (gene, allele) not in self._functions]
        if unlisted:
            alleles = " and ".join(dict.fromkeys(unlisted))
            problem = self._phrase("record-pgx-allele-unlisted", alleles=alleles, gene=gene, version=self.version)
            return DiplotypeReading(diplotype, self._indeterminate, problem)
        phenotype = self._phenotypes[(gene, first, second)]
        uncertain = [a for a in dict.fromkeys((first, second)) if self._functions[(gene, a)] in self._not_interpreted]
        problem = ""
        if phenotype == self._indeterminate and uncertain:
            functions = ", ".join(f"{a} ({self._functions[(gene, a)].lower()})" for a in uncertain)
            problem = self._phrase("record-pgx-indeterminate", gene=gene, diplotype=diplotype, functions=functions)
        return DiplotypeReading(diplotype, phenotype, problem)


def _ordered(first: str, second: str) -> tuple[str, str]:
    """Alleles as CPIC's tables write them ('*3A', upper case), the lower-numbered first."""
    alleles = sorted((f"*{first.upper()}", f"*{second.upper()}"), key=_allele_order)
    return alleles[0], alleles[1]


def _allele_order(allele: str) -> tuple[int, str]:
    digits = re.match(r"\*(\d+)", allele)
    return (int(digits.group(1)) if digits else 0, allele)
