"""What `aza-cds knowledge check` proves of the pack beyond its JSON Schemas: every source and concept a rule names
exists, look-backs cover the windows rules read, and no card template can outgrow its summary or leave a token."""

from __future__ import annotations

from service.knowledge.model import LEFTOVER, PLACEHOLDER, SUMMARY_LIMIT, SUMMARY_PLACEHOLDER_WIDTH, Concept, Rule


def cross_check(rules: list[Rule], sources: dict, concepts: dict[str, Concept]) -> list[str]:
    problems = []
    seen: set[str] = set()
    ids = {rule.id for rule in rules}
    for rule in rules:
        problems += [f"rule {rule.id}: supersedes unknown rule {other!r}" for other in sorted(rule.supersedes - ids)]
        where = f"rule {rule.id}"
        if rule.id in seen:
            problems.append(f"{where}: id used twice")
        seen.add(rule.id)
        cited = [item["source"] for item in [*rule.evidence, *rule.links, *rule.escalations, *rule.matches]]
        problems += [f"{where}: unknown source {source!r}" for source in cited if source not in sources]
        for link in rule.links:
            if "url" not in sources.get(link["source"], {"url": ""}):
                problems.append(f"{where}: link source {link['source']!r} has no url")
        specs = [*rule.parameters.values(), *rule.escalations, *rule.matches]
        named = [c for value in specs if isinstance(value, dict) for c in value.get("concepts", [])]
        named += [e["condition"] for e in rule.escalations if "condition" in e]
        for concept_id in sorted(filter(None, {rule.drug, *rule.interactants, *named})):
            if concept_id not in concepts:
                problems.append(f"{where}: unknown value-set concept {concept_id!r}")
        problems += _lookback_problems(rule)
        problems += [
            f"{where}: a match makes card {m['card']!r}, which the rule does not have"
            for m in rule.matches
            if m["card"] not in rule.cards
        ]
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
        **{f"match {m['in']} within_days": m["within_days"] for m in rule.matches if "within_days" in m},
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
