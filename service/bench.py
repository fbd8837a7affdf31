"""`aza-cds bench`: aza-cds side by side with a floor app and a naive full-parse implementation.

Reference requests (small, medium ~51 KB, large ~500 resources) are generated here. Measured in one run: the floor
(a bare Flask app that parses the body and returns a fixed card), aza-cds in-process for each hook, the naive parse
of every resource with fhir.resources R4B, a scaling table, and, with `--http`, both apps under gunicorn with the
same settings driven by wrk on loopback, with start-up time and peak RSS per worker. Ratios are what we track.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import orjson

from service import bench_history, bench_http
from service.bench_apps import aza_in_process, floor_app, timings
from service.config import EMBEDDED_PACK

NARRATIVE = '<div xmlns="http://www.w3.org/1999/xhtml">' + "Generated narrative. " * 45 + "</div>"
SIZES = {  # labs, medication orders, conditions, draft orders
    "small": (6, 2, 1, 1),
    "medium": (20, 10, 5, 2),
    "large": (380, 90, 28, 2),
}
HOOKS = ("patient-view", "order-select", "order-sign")


def reference_request(hook: str, labs: int, meds: int, conditions: int, drafts: int) -> dict:
    """A patient on azathioprine, well monitored, with the resource counts asked for."""

    def resource(kind: str, index: int, **fields) -> dict:
        return {
            "resourceType": kind,
            "id": f"{kind.lower()}-{index}",
            "text": {"status": "generated", "div": NARRATIVE},
            "subject": {"reference": "Patient/bench"},
            **fields,
        }

    def rx(code: str, display: str) -> dict:
        return {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code, "display": display}]}

    day = lambda n: time.strftime("%Y-%m-%dT08:00:00Z", time.gmtime(time.time() - n * 86400))  # noqa: E731
    analytes = [("6690-2", 6.1, "10*3/uL"), ("777-3", 250, "10*3/uL"), ("1742-6", 22, "U/L"), ("2160-0", 0.9, "mg/dL")]
    observations = [
        resource(
            "Observation",
            i,
            status="final",
            effectiveDateTime=day(5 + 30 * (i // 4)),
            code={"coding": [{"system": "http://loinc.org", "code": analytes[i % 4][0]}]},
            valueQuantity={"value": analytes[i % 4][1], "unit": analytes[i % 4][2], "code": analytes[i % 4][2]},
        )
        for i in range(labs)
    ]
    dose = [
        {
            "timing": {"code": {"coding": [{"code": "QD"}]}},
            "doseAndRate": [{"doseQuantity": {"value": 100, "unit": "mg", "code": "mg"}}],
        }
    ]
    aza, metformin = (
        rx("197388", "azathioprine 50 MG Oral Tablet"),
        rx("861007", "metformin hydrochloride 500 MG Oral Tablet"),
    )

    def order(index: int, status: str, days_ago: int, medication: dict, **extra) -> dict:
        return resource(
            "MedicationRequest",
            index,
            status=status,
            intent="order",
            authoredOn=day(days_ago)[:10],
            medicationCodeableConcept=medication,
            **extra,
        )

    orders = [order(0, "active", 400, aza, dosageInstruction=dose)]
    orders += [order(i, "active", 100, metformin) for i in range(1, meds)]
    problems = [resource("Condition", i, code={"text": f"condition {i}"}) for i in range(conditions)]
    bundle = lambda items: {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in items]}  # noqa: E731
    context: dict[str, object] = {"userId": "Practitioner/bench", "patientId": "bench"}
    if hook != "patient-view":
        # An azathioprine renewal and other orders: two azathioprine drafts would be a duplicate (a DDI-07 card).
        drafted = [order(900, "draft", 0, aza, dosageInstruction=dose)]
        drafted += [order(900 + i, "draft", 0, metformin) for i in range(1, drafts)]
        context["draftOrders"] = bundle(drafted)
        if hook == "order-select":
            context["selections"] = [f"MedicationRequest/{drafted[0]['id']}"]
    weight = resource(
        "Observation",
        999,
        status="final",
        effectiveDateTime=day(10),
        valueQuantity={"value": 70, "unit": "kg", "code": "kg"},
        code={"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
    )
    prefetch = {
        "patient": {"resourceType": "Patient", "id": "bench", "birthDate": "1970-01-01", "gender": "female"},
        "medicationRequests": bundle(orders),
        "labs": bundle(observations),
        "weights": bundle([weight]),
        "conditions": bundle(problems),
        "medicationStatements": bundle([]),
        "allergies": bundle([]),
        "immunizations": bundle([]),
    }
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": prefetch}


def naive_parse(raw: bytes) -> None:
    """What a straightforward implementation does: the request's FHIR content through fhir.resources R4B models, as
    sent (each prefetch value and draftOrders with its own model class, so a Bundle validates every entry)."""
    from fhir.resources.R4B import get_fhir_model_class

    body = json.loads(raw)
    for value in filter(None, [*body["prefetch"].values(), body["context"].get("draftOrders")]):
        get_fhir_model_class(value["resourceType"]).model_validate(value)


def naive_parse_entries(raw: bytes) -> None:
    """A leaner variant: only the resources inside the Bundles, each with its own model (no Bundle models)."""
    from fhir.resources.R4B import get_fhir_model_class

    body = json.loads(raw)
    for value in filter(None, [*body["prefetch"].values(), body["context"].get("draftOrders")]):
        resources = [e["resource"] for e in value.get("entry", [])] if value["resourceType"] == "Bundle" else [value]
        for resource in resources:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def _poster(client, url: str, raw: bytes):
    return lambda: client.post(url, data=raw, content_type="application/json")


def _quiet(_message: str) -> None:
    pass


def in_process(runs: int, progress: Callable[[str], None] = _quiet) -> dict:
    aza, _ = aza_in_process()
    floors = {"floor": floor_app("flask").test_client(), "floor_orjson": floor_app("orjson").test_client()}
    results = {}
    for step, (size, hook) in enumerate(((size, hook) for size in SIZES for hook in HOOKS), start=1):
        counts = SIZES[size]
        progress(f"in-process {step}/{len(SIZES) * len(HOOKS)}: {size}/{hook}, {runs} calls each app")
        raw = orjson.dumps(reference_request(hook, *counts))
        url = f"/cds-services/azathioprine-{hook}"
        assert _poster(aza, url, raw)().status_code == 200
        row = {"bytes": len(raw), "aza": timings(_poster(aza, url, raw), runs)}
        row |= {name: timings(_poster(client, url, raw), runs) for name, client in floors.items()}
        if size != "large" and hook == "order-sign":
            row["naive"] = timings(lambda b=raw: naive_parse(b), max(20, runs // 10), warmup=3)
            row["naive_entries"] = timings(lambda b=raw: naive_parse_entries(b), max(20, runs // 10), warmup=3)
        results[f"{size}/{hook}"] = row
    return results


def run(
    runs: int = 300, http: bool = False, duration: int = 5, workers: int = 2, progress: Callable[[str], None] = _quiet
) -> dict:
    from service.knowledge import load_pack

    pack = load_pack(EMBEDDED_PACK)
    report = {
        "python_speed_ms": python_speed(),
        "in_process": in_process(runs, progress),
        "long_history": bench_history.long_history(pack, max(20, runs // 5), progress),
        "scaling": bench_history.scaling(pack, runs, progress),
    }
    if http:
        progress(f"HTTP: floor, authenticated floor, aza-cds under gunicorn ({workers} workers), wrk {duration} s each")
        raw = orjson.dumps(reference_request("order-sign", *SIZES["medium"]))
        report["http_medium_order_sign"] = bench_http.http_compare(raw, duration, workers)
    return report


def python_speed() -> float:
    """Milliseconds for one million additions in a Python loop (best of 5): how fast this machine runs Python now,
    so that runs on different days, or on a shared machine that is busy, can be told apart."""
    best = float("inf")
    for _ in range(5):
        started, total = time.perf_counter(), 0
        for number in range(1_000_000):
            total += number
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


IN_PROCESS_COLUMNS = (
    ("request", "size/hook of the reference request"),
    ("KB", "request body size"),
    ("aza-cds ms", "aza-cds in-process: median / p90 / p99 milliseconds per call"),
    ("floor ms", "a bare Flask app parsing the same body with get_json and answering one fixed card"),
    ("x floor", "aza-cds median / floor median, then aza-cds p99 / floor p99"),
    ("orjson floor ms", "the same floor parsing with orjson (median), and aza-cds median / it"),
    ("naive ms", "fhir.resources (R4B) on each prefetch value and draftOrders as sent (median), and naive / aza-cds"),
    ("entries ms", "fhir.resources on each resource inside the Bundles only (median), and entries / aza-cds"),
)


def print_report(report: dict) -> None:
    print(f"Machine: one million additions in a Python loop take {report['python_speed_ms']:.0f} ms")
    print("In-process (no sockets, no authentication), milliseconds per call; '-' where not measured.")
    print(
        f"{'request':20} {'KB':>4} {'aza-cds ms':>20} {'floor ms':>20} {'x floor':>9} "
        f"{'orjson floor ms':>16} {'naive ms':>13} {'entries ms':>13}"
    )
    under = ("med/p90/p99", "med/p90/p99", "med/p99", "median  x", "median  x", "median  x")
    print(f"{'':25} {under[0]:>20} {under[1]:>20} {under[2]:>9} {under[3]:>16} {under[4]:>13} {under[5]:>13}")
    for name, row in report["in_process"].items():
        aza, floor, strict = row["aza"], row["floor"], row["floor_orjson"]
        print(
            f"{name:20} {row['bytes'] // 1024:4} {_three(aza):>20} {_three(floor):>20} "
            f"{aza['median'] / floor['median']:4.1f}/{aza['p99'] / floor['p99']:<4.1f} "
            f"{_ratio(strict, aza, strict):>16} {_ratio(row.get('naive'), row.get('naive'), aza):>13} "
            f"{_ratio(row.get('naive_entries'), row.get('naive_entries'), aza):>13}"
        )
    print("Columns:")
    for column, meaning in IN_PROCESS_COLUMNS:
        print(f"  {column:16} {meaning}")
    _print_long_history(report["long_history"])
    scale = report["scaling"]
    sizes = ", ".join(f"{n:,}: {ms:.1f}" for n, ms in scale["median_ms"].items())
    print(f"Scaling, order-sign with every resource sent, median ms by resources: {sizes}")
    print(
        f"  slope {scale['ms_per_1000_resources']:.2f} ms per 1,000 resources "
        f"(intercept {scale['intercept_ms']:.1f} ms); "
        f"20,000 takes {scale['largest_over_2000']:.1f}x the time of 2,000 (linear: 10x)"
    )
    for name, result in report.get("http_medium_order_sign", {}).items():
        rss = result["peak_rss_mb_per_worker"]
        print(f"HTTP {name}: start-up {result['startup_seconds']:.2f} s, peak RSS per worker {rss:.0f} MB")
        for connections, run_ in result["runs"].items():
            print(
                f"  {connections} connection(s): {run_['requests_per_second']:.0f} req/s, p50 {run_['p50_ms']} ms, "
                f"p99 {run_['p99_ms']} ms, non-2xx {run_['non_2xx']}"
            )


def _three(timing: dict) -> str:
    return f"{timing['median']:.2f}/{timing['p90']:.2f}/{timing['p99']:.2f}"


def _ratio(shown: dict | None, numerator: dict | None, denominator: dict) -> str:
    """A median, and the ratio of two medians: aza-cds / a floor, or a naive parse / aza-cds."""
    if not shown or not numerator:
        return "-"
    return f"{shown['median']:.2f} {numerator['median'] / denominator['median']:4.1f}x"


def _print_long_history(table: dict) -> None:
    print(
        "Long history, order-sign renewal in-process: bytes the EHR sends (prefetch + call-back pages), parse "
        "(JSON to patient record) and total, median/p95 ms"
    )
    print(
        f"{'case':34} {'resources':>9} {'prefetch KB':>11} {'call-back KB':>12} "
        f"{'parse ms':>13} {'total ms':>13}  cards"
    )
    for name, row in table.items():
        parse, total = row["parse_ms"], row["total_ms"]
        print(
            f"{name:34} {row['resources']:9} {row['prefetch_bytes'] / 1024:11.0f} "
            f"{row['call_back_bytes'] / 1024:12.0f} "
            f"{parse['median']:6.2f}/{parse['p95']:<6.2f} {total['median']:6.2f}/{total['p95']:<6.2f}  "
            f"{' '.join(row['cards']) or '-'}"
        )
    for size in dict.fromkeys(name.split("/")[0] for name in table):
        broad, narrow = table[f"{size}/broad"], table[f"{size}/narrow"]
        ratio = broad["prefetch_bytes"] / (narrow["prefetch_bytes"] + narrow["call_back_bytes"])
        print(f"  {size}: the narrow templates send {ratio:.1f}x fewer bytes")
