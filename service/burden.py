"""`aza-cds burden`: how many cards a knowledge pack would show on a population, before anyone goes live.

Every patient bundle goes through patient-view and, when the patient has an azathioprine order, an order-sign
renewal of the latest one, in-process and at a fixed reference time. The report gives cards per 100 calls by hook,
rule and indicator, the share of calls with any warning or critical card, and examples to read.
"""

from __future__ import annotations

import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from service import population
from service.fhir import DataUnavailable
from service.hooks import SERVICES
from service.hooks.pipeline import HookPipeline
from service.hooks.templates import prefetch_keys
from service.knowledge import KnowledgePack
from service.protocol import HookCall, InvalidCall, SchemaViolation, check_request
from service.replay import json_files
from service.terminology import Terminology

LOUD = ("warning", "critical")
OTHER_PATIENTS = "patient-view, no azathioprine order"  # any card here is a defect: the rules are about azathioprine
SERVICE_FOR = {service.hook: service.id for service in SERVICES.values()}


@dataclass
class Tally:
    """Counts for one hook."""

    calls: int = 0
    statuses: Counter = field(default_factory=Counter)
    loud_calls: int = 0  # calls with at least one warning or critical card
    cards: Counter = field(default_factory=Counter)  # (rule, indicator) -> cards
    examples: dict = field(default_factory=lambda: defaultdict(list))  # rule -> [(file, indicator, summary)]

    def as_dict(self, examples: int) -> dict:
        per_100 = 100 / self.calls if self.calls else 0
        return {
            "calls": self.calls,
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "calls_with_warning_or_critical": self.loud_calls,
            "share_with_warning_or_critical": round(self.loud_calls / self.calls, 4) if self.calls else 0,
            "cards_per_100_calls": {
                f"{rule} {indicator}": round(count * per_100, 2)
                for (rule, indicator), count in self.cards.most_common()
            },
            "examples": {
                rule: [{"file": f, "indicator": i, "summary": s} for f, i, s in found[:examples]]
                for rule, found in sorted(self.examples.items())
            },
        }


@dataclass
class Burden:
    now: datetime
    patients: int = 0
    with_azathioprine: int = 0
    deceased: int = 0  # of those with an azathioprine order: their chart is opened, no order is renewed
    skipped: list[str] = field(default_factory=list)
    prefetch_bytes: list[tuple[int, int]] = field(default_factory=list)  # per patient: (broad, these templates)
    hooks: dict[str, Tally] = field(
        default_factory=lambda: {"patient-view": Tally(), "order-sign": Tally(), OTHER_PATIENTS: Tally()}
    )

    def as_dict(self, examples: int = 3) -> dict:
        return {
            "reference_time": self.now.isoformat(),
            "patients": self.patients,
            "patients_with_azathioprine_order": self.with_azathioprine,
            "deceased_with_azathioprine_order": self.deceased,
            "skipped_files": self.skipped,
            "prefetch_kb": self.prefetch_summary(),
            "hooks": {hook: tally.as_dict(examples) for hook, tally in self.hooks.items()},
        }

    def prefetch_summary(self) -> dict:
        """Medians over patients: KB sent for these templates, for the broad ones, and broad / these."""
        if not self.prefetch_bytes:
            return {}
        return {
            "median_with_these_templates": round(statistics.median(n for _, n in self.prefetch_bytes) / 1024, 1),
            "median_with_broad_templates": round(statistics.median(b for b, _ in self.prefetch_bytes) / 1024, 1),
            "median_ratio": round(statistics.median(b / n for b, n in self.prefetch_bytes), 2),
        }


def run(
    paths: list[str],
    pack: KnowledgePack,
    now: datetime,
    *,
    current_monitoring: bool = False,
    progress: Callable[[int, int], None] | None = None,
    lab_prefetch: str = "by-code",
    condition_prefetch: str = "all",
) -> Burden:
    # everything comes in the prefetch (no call-backs), by the templates these settings give
    pipeline = HookPipeline(pack, fhir_client=None, lab_prefetch=lab_prefetch, condition_prefetch=condition_prefetch)
    broad = prefetch_keys(pack, "by-category", "all")
    terminology = Terminology(pack)
    files = json_files(paths)
    burden = Burden(now)
    for done, path in enumerate(files, 1):
        try:
            record = population.read_patient_file(path)
        except (OSError, population.NotABundle) as problem:
            burden.skipped.append(f"{path}: {problem}")
            continue
        if current_monitoring:
            record = population.add_current_monitoring(record, pack, terminology, now)
        _one_patient(burden, pipeline, pack, terminology, record, now)
        burden.prefetch_bytes.append(
            (
                population.prefetch_bytes(record, broad, now, whole=True),
                population.prefetch_bytes(record, pipeline.prefetch, now, whole=False),
            )
        )
        if progress:
            progress(done, len(files))
    return burden


def _one_patient(burden: Burden, pipeline, pack, terminology, record: population.PatientFile, now: datetime) -> None:
    burden.patients += 1
    body_prefetch = population.prefetch(record, {name: key.template for name, key in pipeline.prefetch.items()})
    calls = [("patient-view", population.patient_view(record, body_prefetch))]
    orders = population.azathioprine_orders(record, pack, terminology)
    if not orders:
        calls = [(OTHER_PATIENTS, calls[0][1])]
    else:
        burden.with_azathioprine += 1
        if population.is_deceased(record, now):
            burden.deceased += 1
        else:
            calls.append(("order-sign", population.renewal(record, body_prefetch, orders[-1], now)))
    for name, body in calls:
        tally = burden.hooks[name]
        status, cards = _call(pipeline, body, now)
        tally.calls += 1
        tally.statuses[status] += 1
        tally.loud_calls += any(card["indicator"] in LOUD for card in cards)
        for card in cards:
            rule = card.get("source", {}).get("topic", {}).get("code", "?")
            tally.cards[(rule, card["indicator"])] += 1
            tally.examples[rule].append((record.path.name, card["indicator"], card["summary"]))


def _call(pipeline: HookPipeline, body: dict, now: datetime) -> tuple[int, list[dict]]:
    """What the service would answer: the same validation and pipeline as POST /cds-services/{id}."""
    hook = body["hook"]
    try:
        check_request(hook, body)
        call = HookCall.from_request(SERVICE_FOR[hook], hook, body)
    except (SchemaViolation, InvalidCall):
        return 400, []
    try:
        return 200, pipeline.run(call, now)
    except DataUnavailable:
        return 412, []
    except Exception:  # a defect to report, not a reason to stop measuring the rest
        return 500, []


def print_report(burden: Burden, examples: int = 3, out=None) -> None:
    out = out or sys.stdout
    print(f"alert burden at {burden.now:%Y-%m-%d %H:%M} UTC: {burden.patients} patients, "
          f"{burden.with_azathioprine} with an azathioprine order ({burden.deceased} of them deceased: chart "
          "opened, no renewal)", file=out)  # fmt: skip
    for problem in burden.skipped:
        print(f"  skipped {problem}", file=out)
    sizes = burden.prefetch_summary()
    if sizes:
        print(f"prefetch per patient (median): {sizes['median_with_these_templates']} KB with these templates, "
              f"{sizes['median_with_broad_templates']} KB with every laboratory result and condition "
              f"({sizes['median_ratio']}x)", file=out)  # fmt: skip
    for hook, tally in burden.hooks.items():
        if not tally.calls:
            continue
        share = tally.loud_calls / tally.calls
        statuses = ", ".join(f"{count} x {status}" for status, count in sorted(tally.statuses.items()))
        print(f"\n{hook}: {tally.calls} calls ({statuses}); warning or critical on {tally.loud_calls} "
              f"({share:.1%})", file=out)  # fmt: skip
        print(f"  {'rule':<10}{'indicator':<11}{'per 100 calls':>14}", file=out)
        for (rule, indicator), count in tally.cards.most_common():
            print(f"  {rule:<10}{indicator:<11}{count * 100 / tally.calls:>14.1f}", file=out)
        for rule, found in sorted(tally.examples.items()):
            for name, indicator, summary in found[:examples]:
                print(f"    {rule} [{indicator}] {name}: {summary}", file=out)


def plot(burden: Burden, path: Path) -> None:
    """A bar chart of cards per 100 calls by rule, one bar per hook (needs the `plot` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: install aza-cds[plot]") from None
    rules = sorted({rule for tally in burden.hooks.values() for rule, _ in tally.cards})
    figure, axes = plt.subplots(figsize=(max(6, len(rules) * 0.6), 4))
    width = 0.4
    for offset, (hook, tally) in enumerate(burden.hooks.items()):
        per_rule: dict[str, float] = {rule: 0.0 for rule in rules}
        for (rule, _), count in tally.cards.items():
            per_rule[rule] += count * 100 / tally.calls if tally.calls else 0
        axes.bar([i + offset * width for i in range(len(rules))], [per_rule[r] for r in rules], width, label=hook)
    axes.set_xticks([i + width / 2 for i in range(len(rules))], rules, rotation=45, ha="right")
    axes.set_ylabel("cards per 100 calls")
    axes.set_title(f"aza-cds alert burden, {burden.patients} patients")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
