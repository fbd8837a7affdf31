"""Load the knowledge pack (top-level `cards/`) once, validate it, and expose it read-only.

The pack is data: rules, value sets, card text and sources. Python never carries clinical numbers or
wording; it reads them from here. `check_pack` is what `aza-cds knowledge check` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from service.knowledge.checks import cross_check
from service.knowledge.model import Code, Concept, KnowledgePack, PackError, Rule, Table


def load_pack(directory: Path) -> KnowledgePack:
    """Read and validate the pack; raise PackError listing every problem found."""
    validators = {
        name: Draft202012Validator(_read(directory / "schemas" / f"{name}.schema.json"))
        for name in ("manifest", "valueset", "rules")
    }
    manifest = _read(directory / "manifest.json")
    problems = _schema_problems(validators["manifest"], manifest, "manifest.json")
    if problems:
        raise PackError(problems)
    sources = {source["id"]: source for source in manifest["sources"]}
    sets, problems = _read_valuesets(directory, manifest, validators["valueset"], sources)
    rules: list[Rule] = []
    for name in manifest["rules"]:
        document = _read(directory / name)
        found = _schema_problems(validators["rules"], document, name)
        problems += found
        if not found:
            rules += [_make_rule(raw, document.get("phrases", {}), sets.groups) for raw in document["rules"]]
    tables = {}
    for spec in manifest.get("tables", ()):
        table, found = _read_table(directory, spec, sources)
        problems += found
        tables[spec["id"]] = table
    problems += cross_check(rules, sources, sets.concepts) + _manifest_problems(manifest, rules, sets, sources)
    if problems:
        raise PackError(problems)
    kinds = manifest["kinds"]
    return KnowledgePack(
        id=manifest["pack"],
        version=manifest["version"],
        released=manifest["released"],
        canonical=manifest["canonical"],
        sources=sources,
        concepts=sets.concepts,
        groups=sets.groups,
        rules=tuple(rules),
        tables=tables,
        amendments=tuple(manifest.get("amendments", ())),
        restart_gap_days=manifest["therapy"]["restart_gap_days"]["value"],
        indication_precedence=tuple(manifest["therapy"]["indication_precedence"]["value"]),
        kinds={kind: spec.get("reads", "") for kind, spec in kinds.items()},
        part_reads={part: reads for spec in kinds.values() for part, reads in _parts(spec)},
        phrases=manifest["phrases"],
        caution=tuple(sets.caution),
        genomics_reading=sets.reading,
        timeline_links=frozenset(manifest.get("timeline_links", {}).get("value", ())),
    )


@dataclass
class _ValueSets:
    """What the value sets give together: concepts, groups, the pharmacogenomic caution order and reading."""

    concepts: dict[str, Concept] = field(default_factory=dict)
    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    caution: list[str] = field(default_factory=list)
    reading: dict = field(default_factory=dict)


def _read_valuesets(
    directory: Path, manifest: dict, validator: Draft202012Validator, sources: dict
) -> tuple[_ValueSets, list[str]]:
    sets, problems = _ValueSets(), []
    for name in manifest["valuesets"]:
        document = _read(directory / name)
        found = _schema_problems(validator, document, name)
        problems += found
        if not found:
            problems += _add_concepts(document, name, sources, sets.concepts)
            sets.groups |= {group: frozenset(members) for group, members in document.get("groups", {}).items()}
            sets.caution += document.get("caution", {}).get("value", [])
            sets.reading |= document.get("reading", {}).get("value", {})
    problems += [
        f"group {group!r} names unknown concept {member!r}"
        for group, members in sets.groups.items()
        for member in sorted(members - sets.concepts.keys())
    ]
    problems += [f"caution names unknown concept {c!r}" for c in sets.caution if c not in sets.concepts]
    return sets, problems + _reading_problems(sets.reading, sets.concepts, sets.groups)


def _manifest_problems(manifest: dict, rules: list[Rule], sets: _ValueSets, sources: dict) -> list[str]:
    """What the manifest names exists: therapy sources and concepts, the one body weight, kinds, amended rules."""
    problems = [f"manifest.json: therapy {setting}: unknown source"
                for setting, spec in manifest["therapy"].items() if spec["source"] not in sources]  # fmt: skip
    weights = [c.id for c in sets.concepts.values() if c.prefetch == "weights"]
    if len(weights) != 1:
        problems.append(f"value sets: one concept must be the body weight (prefetch 'weights'), found {weights}")
    unknown = [c for c in manifest["therapy"]["indication_precedence"]["value"] if c not in sets.concepts]
    if unknown:
        problems.append(f"manifest.json: therapy indication_precedence: unknown concepts {unknown}")
    linked = manifest.get("timeline_links", {}).get("value", ())
    problems += [f"manifest.json: timeline_links names unknown kind {kind!r}"
                 for kind in linked if kind not in manifest["kinds"]]  # fmt: skip
    problems += [f"rule {rule.id}: kind {rule.kind!r} is not in the manifest's kinds"
                 for rule in rules if rule.kind not in manifest["kinds"]]  # fmt: skip
    problems += _part_problems(rules, manifest["kinds"])
    rule_ids = {rule.id for rule in rules}
    for amendment in manifest.get("amendments", ()):
        if amendment["rule"] not in rule_ids or amendment["source"] not in sources:
            problems.append(f"amendment of {amendment['rule']}: unknown rule or source {amendment['source']!r}")
    return problems


def _parts(kind_spec: dict) -> list[tuple[str, str]]:
    """A kind's matches and reports, with what each reads."""
    return [*kind_spec.get("matches", {}).items(), *kind_spec.get("reports", {}).items()]


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
        matches=tuple(_expand(item, groups) for item in raw.get("matches", ())),
    )


def _reading_problems(reading: dict, concepts: dict[str, Concept], groups: dict[str, frozenset[str]]) -> list[str]:
    """The genomics reading names concepts and groups the pack has."""
    if not reading:
        return ["no value set gives the genomics `reading`"]
    one_gene = reading["one_gene_results"]
    named = [*reading["genes"], reading["gene_studied"], reading["implication"], reading["activity"],
             reading["indeterminate"], *reading["result_codes"], *reading["all_gene_results"],
             *reading["activity_reads"].values(), *one_gene, *(c for cs in one_gene.values() for c in cs)]  # fmt: skip
    problems = [f"genomics reading names unknown concept {c!r}" for c in named if c not in concepts]
    wanted = [reading["answers"], reading["activity_flags"]]
    return problems + [f"genomics reading names unknown group {g!r}" for g in wanted if g not in groups]


def _part_problems(rules: list[Rule], kinds: dict) -> list[str]:
    """Each match or report a rule lists is one its kind declares (and says what it reads); a rule that reports
    problems has the one card they make."""
    problems = []
    for rule in rules:
        spec = kinds.get(rule.kind, {})
        for field_name, parts in (("matches", [m["in"] for m in rule.matches]),
                                  ("reports", rule.parameters.get("reports", []))):  # fmt: skip
            unknown = sorted(set(parts) - set(spec.get(field_name, {})))
            problems += [f"rule {rule.id}: kind {rule.kind!r} has no {field_name[:-1]} {part!r}" for part in unknown]
        if "reports" in rule.parameters and len(rule.cards) != 1:
            problems.append(f"rule {rule.id}: a rule that reports problems has one card, not {len(rule.cards)}")
    return problems


def _expand(value: Any, groups: dict[str, frozenset[str]]) -> Any:
    """Replace group ids by their members in a parameter's `concepts` list."""
    if isinstance(value, dict) and isinstance(value.get("concepts"), list):
        members = [member for name in value["concepts"] for member in sorted(groups.get(name, {name}))]
        return value | {"concepts": members}
    return value
