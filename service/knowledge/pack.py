"""Load the knowledge pack (top-level `cards/`) once, validate it, and expose it read-only.

The pack is data: rules, value sets, card text and sources. Python never carries clinical numbers or
wording; it reads them from here. `check_pack` is what `aza-cds knowledge check` runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator

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

    def indicator_for(self, variant: str) -> str:
        return self.variant_indicators.get(variant, self.indicator)

    def param(self, name: str) -> Any:
        return self.parameters[name]

    def phrase(self, name: str, /, **values: object) -> str:
        """The family's phrase `name` with its `{placeholders}` filled, as plain text: rendering escapes what
        reaches a card. A phrase or value missing is a pack/evaluator mismatch (tests/rules/test_phrases.py)."""
        return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), self.phrases[name])


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
    phrases: dict[str, str] = field(default_factory=dict)  # manifest `phrases`: the wording every card shares

    def phrase(self, name: str, /, **values: object) -> str:
        """A pack-wide phrase with its `{placeholders}` filled, as plain text (as `Rule.phrase`)."""
        return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), self.phrases[name])

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


def load_pack(directory: Path) -> KnowledgePack:
    """Read and validate the pack; raise PackError listing every problem found."""
    problems: list[str] = []
    validators = {
        name: Draft202012Validator(_read(directory / "schemas" / f"{name}.schema.json"))
        for name in ("manifest", "valueset", "rules")
    }
    manifest = _read(directory / "manifest.json")
    problems += _schema_problems(validators["manifest"], manifest, "manifest.json")
    if problems:
        raise PackError(problems)

    sources = {source["id"]: source for source in manifest["sources"]}
    concepts: dict[str, Concept] = {}
    groups: dict[str, frozenset[str]] = {}
    for name in manifest["valuesets"]:
        document = _read(directory / name)
        found = _schema_problems(validators["valueset"], document, name)
        problems += found
        if not found:
            problems += _add_concepts(document, name, sources, concepts)
            groups |= {group: frozenset(members) for group, members in document.get("groups", {}).items()}
    problems += [
        f"group {group!r} names unknown concept {member!r}"
        for group, members in groups.items()
        for member in sorted(members - concepts.keys())
    ]

    rules: list[Rule] = []
    for name in manifest["rules"]:
        document = _read(directory / name)
        found = _schema_problems(validators["rules"], document, name)
        problems += found
        if not found:
            rules += [_make_rule(raw, document.get("phrases", {}), groups) for raw in document["rules"]]

    tables = {}
    for spec in manifest.get("tables", ()):
        table, found = _read_table(directory, spec, sources)
        problems += found
        tables[spec["id"]] = table
    problems += _cross_check(rules, sources, concepts)
    for setting, spec in manifest["therapy"].items():
        if spec["source"] not in sources:
            problems.append(f"manifest.json: therapy {setting}: unknown source")
    weights = [c.id for c in concepts.values() if c.prefetch == "weights"]
    if len(weights) != 1:
        problems.append(f"value sets: one concept must be the body weight (prefetch 'weights'), found {weights}")
    unknown = [c for c in manifest["therapy"]["indication_precedence"]["value"] if c not in concepts]
    if unknown:
        problems.append(f"manifest.json: therapy indication_precedence: unknown concepts {unknown}")
    problems += [f"rule {rule.id}: kind {rule.kind!r} is not in the manifest's kinds"
                 for rule in rules if rule.kind not in manifest["kinds"]]  # fmt: skip
    rule_ids = {rule.id for rule in rules}
    for amendment in manifest.get("amendments", ()):
        if amendment["rule"] not in rule_ids or amendment["source"] not in sources:
            problems.append(f"amendment of {amendment['rule']}: unknown rule or source {amendment['source']!r}")
    if problems:
        raise PackError(problems)
    return KnowledgePack(
        id=manifest["pack"],
        version=manifest["version"],
        released=manifest["released"],
        canonical=manifest["canonical"],
        sources=sources,
        concepts=concepts,
        groups=groups,
        rules=tuple(rules),
        tables=tables,
        amendments=tuple(manifest.get("amendments", ())),
        restart_gap_days=manifest["therapy"]["restart_gap_days"]["value"],
        indication_precedence=tuple(manifest["therapy"]["indication_precedence"]["value"]),
        kinds={kind: spec["reads"] for kind, spec in manifest["kinds"].items()},
        phrases=manifest["phrases"],
    )


def _read_table(directory: Path, spec: dict, sources: dict) -> tuple[Table, list[str]]:
    """A TSV table named by the manifest: its header must be the declared columns, every row complete."""
    where = f"table {spec['id']} ({spec['file']})"
    problems = [] if spec["source"] in sources else [f"{where}: unknown source {spec['source']!r}"]
    lines = (directory / spec["file"]).read_bytes().decode("utf-8").splitlines()
    header = lines[0].split("\t") if lines else []
    if header != spec["columns"]:
        problems.append(f"{where}: columns are {header}, the manifest says {spec['columns']}")
    rows = tuple(dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line.strip())
    problems += [f"{where}: row {line} is incomplete" for line, row in enumerate(rows, 2) if len(row) != len(header)]
    return Table(spec["id"], spec["source"], spec["version"], rows), problems


def check_pack(directory: Path) -> list[str]:
    """Every problem in the pack, or an empty list when it is valid."""
    try:
        load_pack(directory)
    except PackError as error:
        return error.problems
    except (OSError, orjson.JSONDecodeError) as error:
        return [f"cannot read the pack: {error}"]
    return []


def _read(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def _schema_problems(validator: Draft202012Validator, document: Any, name: str) -> list[str]:
    return [
        f"{name}: {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def _add_concepts(document: dict, name: str, sources: dict, concepts: dict[str, Concept]) -> list[str]:
    problems = []
    systems = document["systems"]
    for raw in document["concepts"]:
        if raw["id"] in concepts:
            problems.append(f"{name}: concept id {raw['id']!r} is defined twice")
        codes = []
        for code in raw["codes"]:
            if code["system"] not in systems:
                problems.append(f"{name}: {raw['id']}: unknown system key {code['system']!r}")
                continue
            if code["source"] not in sources:
                problems.append(f"{name}: {raw['id']} {code['code']}: unknown source {code['source']!r}")
            codes.append(
                Code(
                    system=systems[code["system"]],
                    code=code["code"],
                    status=code["status"],
                    display=code.get("display", ""),
                    tty=code.get("tty", ""),
                    strength_mg=code.get("strength_mg"),
                )
            )
        concepts[raw["id"]] = Concept(
            id=raw["id"],
            display=raw["display"],
            codes=tuple(codes),
            text=tuple(raw.get("text", ())),
            unit=raw.get("unit", ""),
            conversions=raw.get("conversions", {}),
            exclude=tuple(raw.get("exclude", ())),
            history_counts=raw.get("history_counts", False),
            current_for_days=raw["current_for_days"]["value"] if "current_for_days" in raw else None,
            prefetch=raw.get("prefetch", ""),
            qualitative=raw.get("result") == "qualitative",
        )
        window = raw.get("current_for_days")
        if window and window["source"] not in sources:
            problems.append(f"{name}: {raw['id']} current_for_days: unknown source {window['source']!r}")
    return problems


def _make_rule(raw: dict, phrases: dict[str, str], groups: dict[str, frozenset[str]]) -> Rule:
    return Rule(
        id=raw["id"],
        title=raw["title"],
        kind=raw["kind"],
        hooks=frozenset(raw["hooks"]),
        indicator=raw["indicator"],
        evidence=tuple(raw["evidence"]),
        cards=raw["cards"],
        suggestions=tuple(raw.get("suggestions", ())),
        override_reasons=tuple(raw.get("overrideReasons", ())),
        links=tuple(raw.get("links", ())),
        parameters={name: _expand(spec["value"], groups) for name, spec in raw.get("parameters", {}).items()},
        drug=raw.get("drug", ""),
        interactants=frozenset().union(*(groups.get(name, {name}) for name in raw.get("interactants", ()))),
        supersedes=frozenset(raw.get("supersedes", ())),
        repeat_on_order_sign=raw.get("repeatOnOrderSign", False),
        variant_indicators=raw.get("indicators", {}),
        phrases=phrases,
        escalations=tuple(_expand(item, groups) for item in raw.get("escalations", ())),
    )


def _expand(value: Any, groups: dict[str, frozenset[str]]) -> Any:
    """Replace group ids by their members in a parameter's `concepts` list."""
    if isinstance(value, dict) and isinstance(value.get("concepts"), list):
        members = [member for name in value["concepts"] for member in sorted(groups.get(name, {name}))]
        return value | {"concepts": members}
    return value


def _cross_check(rules: list[Rule], sources: dict, concepts: dict[str, Concept]) -> list[str]:
    problems = []
    seen: set[str] = set()
    ids = {rule.id for rule in rules}
    for rule in rules:
        problems += [f"rule {rule.id}: supersedes unknown rule {other!r}" for other in sorted(rule.supersedes - ids)]
        where = f"rule {rule.id}"
        if rule.id in seen:
            problems.append(f"{where}: id used twice")
        seen.add(rule.id)
        cited = [item["source"] for item in [*rule.evidence, *rule.links, *rule.escalations]]
        problems += [f"{where}: unknown source {source!r}" for source in cited if source not in sources]
        for link in rule.links:
            if "url" not in sources.get(link["source"], {"url": ""}):
                problems.append(f"{where}: link source {link['source']!r} has no url")
        specs = [*rule.parameters.values(), *rule.escalations]
        named = [c for value in specs if isinstance(value, dict) for c in value.get("concepts", [])]
        named += [e["condition"] for e in rule.escalations if "condition" in e]
        for concept_id in sorted(filter(None, {rule.drug, *rule.interactants, *named})):
            if concept_id not in concepts:
                problems.append(f"{where}: unknown value-set concept {concept_id!r}")
        problems += _lookback_problems(rule)
        for suggestion in rule.suggestions:
            for order in filter(None, [suggestion.get("order"), *suggestion.get("also_order", ())]):
                if order not in concepts:
                    problems.append(f"{where}: suggestion orders unknown concept {order!r}")
                elif any(code.status == "K" for code in concepts[order].codes[:1]):
                    problems.append(f"{where}: suggestion orders {order!r} by an unverified code")
        for variant, text in rule.cards.items():
            problems += _summary_problems(f"{where} card {variant!r}", text["summary"])
            problems += _leftover_problems(f"{where} card {variant!r}", text["summary"], text["detail"])
        problems += _leftover_problems(f"{where} phrases", *rule.phrases.values())
        problems += _leftover_problems(f"{where} suggestions", *(s["label"] for s in rule.suggestions))
    return problems


def _lookback_problems(rule: Rule) -> list[str]:
    """A rule's `lookback_days` covers every window its own parameters read results in."""
    if "lookback_days" not in rule.parameters:
        return []
    params = rule.parameters
    windows = {
        "weight_max_age_days": params.get("weight_max_age_days"),
        "result_max_age_days": params.get("result_max_age_days"),
        "window_days": params.get("window_days"),
        "positive_test within_days": (params.get("positive_test") or {}).get("within_days"),
        "escalation dose-above weight_max_age_days": next(
            (e["weight_max_age_days"] for e in rule.escalations if e["if"] == "dose-above"), None
        ),
    }
    if "creatinine_rise" in params:
        windows["result_max_age_days + creatinine_rise over_days"] = (
            params.get("result_max_age_days", 0) + params["creatinine_rise"]["over_days"]
        )
    return [
        f"rule {rule.id}: lookback_days {params['lookback_days']} is shorter than its {name} ({days})"
        for name, days in windows.items()
        if days is not None and days > params["lookback_days"]
    ]


def _leftover_problems(where: str, *templates: str) -> list[str]:
    """Rendered with a value for every placeholder, a template must show no `{...}` (e.g. `{NUDT15}` or `{nudt-15}`,
    which no evaluator fills)."""
    rendered = [PLACEHOLDER.sub("value", template) for template in templates]
    return [f"{where}: {match} would be shown unfilled" for text in rendered for match in LEFTOVER.findall(text)]


def _summary_problems(where: str, template: str) -> list[str]:
    names = PLACEHOLDER.findall(template)
    unbounded = [name for name in names if name not in SUMMARY_PLACEHOLDER_WIDTH]
    if unbounded:
        return [f"{where}: summary uses placeholders with no length bound: {', '.join(unbounded)}"]
    worst = PLACEHOLDER.sub(lambda match: "x" * SUMMARY_PLACEHOLDER_WIDTH[match.group(1)], template)
    if len(worst) >= SUMMARY_LIMIT:
        return [f"{where}: summary can reach {len(worst)} characters (limit: under {SUMMARY_LIMIT})"]
    return []
