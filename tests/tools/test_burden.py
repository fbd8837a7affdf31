"""`aza-cds burden` on a tiny population written here: what each patient should get follows from the label
(febuxostat with azathioprine is contraindicated, whatever the hook) and from issue 12 (a stable renewal is quiet,
a deceased patient's chart is quiet, a patient without azathioprine gets nothing)."""

from __future__ import annotations

import orjson
import pytest
from helpers import AZATHIOPRINE, FEBUXOSTAT, LISINOPRIL, med_request

from service.cli import main

NOW = "2026-12-01"


def patient_file(folder, name, resources, **patient):
    entries = [{"resource": {"resourceType": "Patient", "id": name, "birthDate": "1970-01-01", **patient}}]
    entries += [{"resource": resource} for resource in resources]
    path = folder / f"{name}.json"
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


@pytest.fixture
def population(tmp_path):
    aza = med_request("aza", AZATHIOPRINE, authored="2025-01-10")
    patient_file(tmp_path, "on-febuxostat", [aza, med_request("feb", FEBUXOSTAT, authored="2024-01-01")])
    patient_file(tmp_path, "stable", [aza, med_request("lis", LISINOPRIL, authored="2020-01-01")])
    patient_file(tmp_path, "died", [aza], deceasedDateTime="2026-06-01")
    patient_file(tmp_path, "no-azathioprine", [med_request("lis", LISINOPRIL, authored="2020-01-01")])
    (tmp_path / "practitioners.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "entry": []}))
    return tmp_path


def run_json(capsys, *args) -> dict:
    assert main(["burden", *args, "--now", NOW, "--json"]) == 0
    return orjson.loads(capsys.readouterr().out)


def test_counts_calls_cards_and_loud_shares_by_hook(population, capsys):
    report = run_json(capsys, str(population), "--current-monitoring")
    assert report["patients"] == 4 and report["patients_with_azathioprine_order"] == 3
    assert report["deceased_with_azathioprine_order"] == 1 and len(report["skipped_files"]) == 1
    chart, renewal, others = (
        report["hooks"][k] for k in ("patient-view", "order-sign", "patient-view, no azathioprine order")
    )
    assert chart["calls"] == 3 and chart["statuses"] == {"200": 3}
    assert chart["cards_per_100_calls"] == {"DDI-01 critical": pytest.approx(33.33)}  # one of three charts
    assert renewal["calls"] == 2 and renewal["calls_with_warning_or_critical"] == 1  # the deceased: no renewal
    assert list(renewal["cards_per_100_calls"]) == ["DDI-01 critical"]  # lisinopril for years: not news
    assert renewal["examples"]["DDI-01"][0]["file"] == "on-febuxostat.json"
    assert others == {**others, "calls": 1, "calls_with_warning_or_critical": 0, "cards_per_100_calls": {}}


def test_without_current_monitoring_the_missing_counts_are_what_it_finds(population, capsys):
    chart = run_json(capsys, str(population))["hooks"]["patient-view"]
    assert chart["cards_per_100_calls"]["MON-01 warning"] == pytest.approx(66.67)  # no CBC on file: living two


def test_text_report_and_errors(population, capsys, tmp_path):
    assert main(["burden", str(population), "--now", NOW, "--current-monitoring"]) == 0
    out = capsys.readouterr().out
    assert "order-sign: 2 calls (2 x 200); warning or critical on 1 (50.0%)" in out and "DDI-01" in out
    assert main(["burden", str(population), "--now", "yesterday"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["burden", str(empty)]) == 2
    assert "no patient bundles" in capsys.readouterr().err


def test_plot_writes_a_bar_chart(population, capsys, tmp_path):
    chart = tmp_path / "burden.png"
    assert main(["burden", str(population), "--now", NOW, "--current-monitoring", "--plot", str(chart)]) == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "plot written" in capsys.readouterr().err


def test_prefetch_bytes_of_the_templates_against_the_broad_ones(tmp_path, capsys, monkeypatch):
    """Two years of monthly sodium results (no rule reads them) and one CBC: the narrow templates do not ask for the
    sodium; the broad ones (every laboratory result) do. The same cards either way."""
    from helpers import observation

    lab = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
    sodium = [observation(f"na-{m}", "2951-2", 140, "mmol/L", f"2025-{1 + m % 12:02d}-15T08:00:00Z") for m in range(24)]
    cbc = [observation(i, code, value, "10*3/uL", "2026-11-20T08:00:00Z")
           for i, code, value in (("w", "6690-2", 6.0), ("p", "777-3", 250))]  # fmt: skip
    results = [o | {"category": [lab]} for o in sodium + cbc]
    aza = med_request("aza", AZATHIOPRINE, authored="2025-01-10")
    patient_file(tmp_path, "labs", [aza, *results])
    narrow = run_json(capsys, str(tmp_path))
    sizes = narrow["prefetch_kb"]
    assert sizes["median_ratio"] > 2 and sizes["median_with_these_templates"] < sizes["median_with_broad_templates"]
    monkeypatch.setenv("AZA_CDS_PREFETCH_LABS", "by-category")  # as the service reads it
    broad = run_json(capsys, str(tmp_path))
    assert broad["hooks"] == narrow["hooks"] and broad["prefetch_kb"]["median_ratio"] == pytest.approx(1, abs=0.1)
