"""The benchmark tool works and its reference requests have the shapes the performance issue specifies.
(No timing is asserted here: figures come from `aza-cds bench`, not from tests.)"""

from __future__ import annotations

import orjson

from service import bench


def resources(body: dict) -> int:
    values = [*body["prefetch"].values(), body["context"].get("draftOrders")]
    return sum(len(v.get("entry", [])) if v.get("resourceType") == "Bundle" else 1 for v in values if v)


def test_reference_request_sizes():
    medium = bench.reference_request("order-sign", *bench.SIZES["medium"])
    assert 45_000 < len(orjson.dumps(medium)) < 60_000  # the ~51 KB order-sign of the issue
    assert len(medium["context"]["draftOrders"]["entry"]) == 2
    small = bench.reference_request("order-sign", *bench.SIZES["small"])
    assert len(small["context"]["draftOrders"]["entry"]) == 1 and resources(small) <= 12
    assert 480 <= resources(bench.reference_request("order-sign", *bench.SIZES["large"])) <= 520


def test_in_process_comparison_and_report(capsys):
    said = []
    report = {"in_process": bench.in_process(runs=3, progress=said.append), "scaling_order_sign_ms": {10: 1.0}}
    cases = [f"{size}/{hook}" for size in bench.SIZES for hook in bench.HOOKS]
    assert set(report["in_process"]) == set(cases)
    assert [message.split(": ")[1].split(",")[0] for message in said] == cases  # progress, one line per case
    assert said[0].startswith(f"in-process 1/{len(cases)}: ")
    assert "naive" in report["in_process"]["medium/order-sign"]
    bench.print_report(report)
    out = capsys.readouterr().out
    assert "medium/order-sign" in out
    header = out.splitlines()[1]
    for column, _meaning in bench.IN_PROCESS_COLUMNS:
        assert column in header  # every column is headed, and explained below the table
        assert any(
            line.split()[: len(column.split())] == column.split() for line in out.split("Columns:")[1].splitlines()[1:]
        )


def test_floor_app_answers_a_fixed_card():
    for parser in ("flask", "orjson"):
        response = (
            bench.floor_app(parser).test_client().post("/cds-services/x", data=b"{}", content_type="application/json")
        )
        assert response.get_json()["cards"][0]["summary"] == "floor"


def test_both_naive_parses_really_validate_every_resource():
    import pydantic
    import pytest

    body = bench.reference_request("order-sign", *bench.SIZES["small"])
    for naive in (bench.naive_parse, bench.naive_parse_entries):
        naive(orjson.dumps(body))  # the reference request is valid FHIR R4
    body["prefetch"]["labs"]["entry"][-1]["resource"]["effectiveDateTime"] = "yesterday"  # not a FHIR dateTime
    for naive in (bench.naive_parse, bench.naive_parse_entries):
        with pytest.raises(pydantic.ValidationError):
            naive(orjson.dumps(body))
