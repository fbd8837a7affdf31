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
    report = {"in_process": bench.in_process(runs=3), "scaling_order_sign_ms": {10: 1.0, 100: 2.0}}
    assert set(report["in_process"]) == {f"{size}/{hook}" for size in bench.SIZES for hook in bench.HOOKS}
    assert "naive" in report["in_process"]["medium/order-sign"]
    bench.print_report(report)
    assert "medium/order-sign" in capsys.readouterr().out


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
