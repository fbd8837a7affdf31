"""The benchmark tool works and its reference requests have the shapes the performance issue specifies.
(No timing is asserted here: figures come from `aza-cds bench`, not from tests.)"""

from __future__ import annotations

import orjson
import pytest

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
    timing = {"median": 1.0, "p95": 2.0}
    row = {"prefetch_bytes": 4000, "call_back_bytes": 0, "resources": 3, "parse_ms": timing, "total_ms": timing}
    report = {
        "python_speed_ms": bench.python_speed(),
        "in_process": bench.in_process(runs=3, progress=said.append),
        "long_history": {"tiny/broad": row | {"cards": ["MON-01"]},
                         "tiny/narrow": row | {"prefetch_bytes": 1000, "cards": []}},
        "scaling": {"median_ms": {100: 1.0, 2000: 2.0}, "ms_per_1000_resources": 0.5, "intercept_ms": 0.9,
                    "largest_over_2000": 1.0},
    }  # fmt: skip
    cases = [f"{size}/{hook}" for size in bench.SIZES for hook in bench.HOOKS]
    assert set(report["in_process"]) == set(cases)
    assert [message.split(": ")[1].split(",")[0] for message in said] == cases  # progress, one line per case
    assert said[0].startswith(f"in-process 1/{len(cases)}: ")
    assert "naive" in report["in_process"]["medium/order-sign"]
    bench.print_report(report)
    out = capsys.readouterr().out
    assert "medium/order-sign" in out
    assert "tiny: the narrow templates send 4.0x fewer bytes" in out and "slope 0.50 ms per 1,000 resources" in out
    assert 0 < report["python_speed_ms"] < 10_000 and out.startswith("Machine: one million additions")
    header = out.splitlines()[2]
    for column, _meaning in bench.IN_PROCESS_COLUMNS:
        assert column in header  # every column is headed, and explained below the table
        assert any(
            line.split()[: len(column.split())] == column.split() for line in out.split("Columns:")[1].splitlines()[1:]
        )


def test_floor_app_answers_a_fixed_card():
    from service.bench_apps import floor_app

    for parser in ("flask", "orjson"):
        response = floor_app(parser).test_client().post("/cds-services/x", data=b"{}", content_type="application/json")
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


def test_the_long_history_is_shaped_like_a_real_record():
    """The issue's case: several thousand Observations over 20 years, hundreds of conditions and orders, and the
    Synthea-sized one about 1 MB when every result is sent."""
    from datetime import UTC, datetime

    from fhir.resources.R4B import get_fhir_model_class

    from service.bench_history import SIZES, LongHistory

    now = datetime(2026, 12, 1, tzinfo=UTC)
    dense = LongHistory(*SIZES["20 years, dense"], now=now)
    kinds = [r["resourceType"] for r in dense.resources]
    assert kinds.count("Observation") >= 3000 and kinds.count("Condition") >= 200
    assert kinds.count("MedicationRequest") >= 200
    days = sorted(r["effectiveDateTime"] for r in dense.resources if r["resourceType"] == "Observation")
    assert days[0] < "2008-01-01" and days[-1] > "2026-11-01"  # yearly panels for 20 years back from now
    assert 3_500_000 < len(orjson.dumps(dense.resources)) < 5_000_000
    synthea = LongHistory(*SIZES["synthea-sized"], now=now)
    assert 800_000 < len(orjson.dumps(synthea.resources)) < 1_200_000
    for kind in ("Observation", "Condition", "MedicationRequest", "Immunization"):
        sample = next(r for r in dense.resources if r["resourceType"] == kind)
        get_fhir_model_class(kind).model_validate(sample)  # valid FHIR R4, as an EHR would send it


def test_broad_and_narrow_templates_give_the_same_cards_for_fewer_bytes():
    from service.bench_history import long_history
    from service.knowledge import load_pack

    table = long_history(load_pack(bench.EMBEDDED_PACK), runs=1, progress=lambda message: None)
    for size in ("synthea-sized", "20 years, dense"):
        broad, narrow = table[f"{size}/broad"], table[f"{size}/narrow"]
        assert broad["cards"] == narrow["cards"] == ["MON-03"]  # the low neutrophil count (BSR: below 1.6)
        assert narrow["prefetch_bytes"] + narrow["call_back_bytes"] < broad["prefetch_bytes"] / 2
    assert table["20 years, dense/narrow"]["call_back_bytes"] > 0  # its look-back needs pages beyond the first


def test_scaling_dates_every_resource_within_the_look_back(monkeypatch):
    """The scaling case is the worst case the README describes: every result inside the 400 days, so every one is
    read (a 20-year record would skip most of them unparsed and hide the cost of reading)."""
    from datetime import UTC, datetime, timedelta

    import service.bench_history as bench_history

    built = []
    monkeypatch.setattr(bench_history, "SCALING_SIZES", (100, 2000))
    monkeypatch.setattr(
        bench_history,
        "_measured_call",
        lambda pack, history, mode, runs: built.append(history) or {"total_ms": {"median": 1.0}},
    )
    bench_history.scaling(None, runs=1, progress=lambda message: None)
    oldest = (datetime.now(UTC) - timedelta(days=401)).date().isoformat()
    assert [round(len(history.resources), -2) for history in built] == [100, 2000]
    for history in built:
        days = [r["effectiveDateTime"][:10] for r in history.resources if r["resourceType"] == "Observation"]
        assert len(days) > 0.8 * len(history.resources) and min(days) >= oldest


def test_slope_of_a_straight_line():
    from service.bench_history import slope

    assert slope([(1000, 3.0), (2000, 5.0), (4000, 9.0)]) == pytest.approx((2.0, 1.0))  # 2 ms per 1,000, 1 at zero


def test_the_authenticated_floor_verifies_the_token_and_refuses_a_replay(tmp_path, monkeypatch):
    from service.bench_apps import auth_floor_app
    from service.bench_http import _rs384_client

    sign = _rs384_client(tmp_path)
    monkeypatch.setenv("AZA_CDS_TRUST_FILE", str(tmp_path / "trust.json"))
    monkeypatch.setenv("AZA_CDS_PUBLIC_URL", "http://floor.example")
    client = auth_floor_app().test_client()
    url = "/cds-services/azathioprine-order-sign"
    token = sign("http://floor.example" + url)
    post = lambda t: client.post(url, data=b"{}", headers={"Authorization": f"Bearer {t}"})  # noqa: E731
    assert post(token).status_code == 200
    assert post(token).status_code == 401  # the same jti again
    assert post(sign("http://elsewhere.example" + url)).status_code == 401  # another audience
    assert post("not-a-token").status_code == 401
