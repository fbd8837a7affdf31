"""The monitoring timeline on record literals: each lab's hold threshold is the pack's MON-03 limit, the due dates
are MON-01's and MON-02's arithmetic (the label's monthly counts after month 3 with 7 days of slack; BSR's liver
tests every 3 months with 14), an interacting drug is marked where it starts, and the picture and its tables say
the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers import REPO, shipped_pack
from rule_records import use

from service.cli import main
from service.record import LabResult, PatientRecord
from service.timeline import build_timeline
from service.timeline.chart import render
from service.timeline.page import page

PACK = shipped_pack()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FIXTURE = REPO / "fixtures" / "requests" / "patient-view-falling-wbc-after-allopurinol.json"


def lab(analyte, value, days_ago, unit="10*9/L"):
    return LabResult(analyte, "x", value, unit, NOW - timedelta(days=days_ago), "final")


def record():
    """On azathioprine 200 days; counts 70, 40 and 10 days ago, the WBC falling below 3.5 at the last; allopurinol
    from 50 days ago."""
    aza = use("MedicationRequest/a", "azathioprine", days_ago=200)
    allopurinol = use("MedicationRequest/p", "allopurinol", days_ago=50)
    labs = [lab(a, v, d) for d, wbc in ((70, 6.0), (40, 4.6), (10, 3.2)) for a, v in (("wbc", wbc), ("platelets", 230))]
    labs += [lab("alt", 25, 70, "U/L")]
    return PatientRecord("p1", "patient-view", NOW, medications=[aza, allopurinol], labs=labs)


def test_each_lab_carries_the_packs_hold_threshold_and_flags_what_is_past_it():
    timeline = build_timeline(record(), PACK)
    wbc = next(panel for panel in timeline.panels if panel.analyte == "wbc")
    assert (wbc.limit.direction, wbc.limit.value, wbc.limit.indicator) == ("below", 3.5, "critical")
    assert [flagged for _, flagged in wbc.points] == [False, False, True]
    assert "neutrophil count" in timeline.empty_panels  # a threshold analyte with no result: named, not drawn


def test_due_dates_are_the_schedule_rules_arithmetic():
    timeline = build_timeline(record(), PACK)
    cbc = next(s for s in timeline.schedules if s.rule_id == "MON-01")
    last = (NOW - timedelta(days=10)).date()
    assert [i.met for i in cbc.intervals] == [True, True, None]  # 30 days apart: each in time (30 + 7)
    assert (cbc.intervals[-1].due, cbc.intervals[-1].overdue_from) == (last + timedelta(30), last + timedelta(38))
    liver = next(s for s in timeline.schedules if s.rule_id == "MON-02")
    only = (NOW - timedelta(days=70)).date()
    assert [(i.after, i.due, i.met) for i in liver.intervals] == [(only, only + timedelta(91), None)]


def test_an_interacting_drug_is_marked_from_its_start():
    (span,) = build_timeline(record(), PACK).drugs
    assert (span.display, span.rule_id, span.start) == ("allopurinol", "DDI-02", NOW - timedelta(days=50))


def test_the_chart_and_its_tables_show_the_same_threshold_marker_and_due_date():
    timeline = build_timeline(record(), PACK)
    svg = render(timeline, PACK).decode()
    assert svg.startswith("<?xml") and "hold threshold: below 3.5" in svg and "allopurinol started" in svg
    due = (NOW - timedelta(days=10)).date() + timedelta(30)
    assert f"next: due {due}" in svg
    html = page(timeline, PACK, svg.encode())
    assert "<caption>Tests due</caption>" in html and f"<td>{due}</td>" in html
    assert "<td>3.2 x10^9/L</td><td>yes</td><td>hold threshold: below 3.5</td>" in html
    assert f"<td>{due}</td><td>{due + timedelta(8)}</td><td>open</td>" in html  # not yet overdue


def test_an_open_interval_past_its_slack_is_overdue_in_the_table_as_in_the_chart():
    late = record()
    late.now = NOW + timedelta(days=40)  # the last count 50 days back: past 30 and 7 days of slack
    timeline = build_timeline(late, PACK)
    html = page(timeline, PACK, b"")
    assert "<td>overdue</td>" in html and "overdue since" in render(timeline, PACK).decode()
    assert render(timeline, PACK, "png").startswith(b"\x89PNG")


def test_the_command_draws_a_fixture_and_refuses_what_it_cannot_draw(tmp_path, capsys):
    out = tmp_path / "timeline.svg"
    assert main(["timeline", str(FIXTURE), "--out", str(out)]) == 0
    svg = out.read_text()  # the acceptance case: the WBC band, the fall, the allopurinol marker, the next CBC due
    assert "hold threshold: below 3.5" in svg and "white blood cell count fell 3 times in a row" in svg
    assert "allopurinol started" in svg and "overdue since" in svg
    assert main(["timeline", str(FIXTURE), "--out", str(tmp_path / "t.gif")]) == 2
    (tmp_path / "notes.txt").write_text("not json")
    assert main(["timeline", str(tmp_path / "notes.txt"), "--out", str(out)]) == 2
    assert "cannot be read as JSON" in capsys.readouterr().err


def test_a_hook_call_never_loads_matplotlib():
    """Drawing is for the timeline only: a worker answering hook calls does not pay for importing matplotlib."""
    import subprocess
    import sys

    script = (
        "import sys, orjson\n"
        "from service.app import create_app\nfrom service.store import Storage\n"
        "from service.replay import load_fixture\n"
        f"fixture = load_fixture(__import__('pathlib').Path({str(FIXTURE)!r}))\n"
        "client = create_app({'AZA_CDS_AUTH': 'off'}, storage=Storage.in_memory()).test_client()\n"
        "answer = client.post('/cds-services/' + fixture['service'], data=orjson.dumps(fixture['request']),\n"
        "                     content_type='application/json')\n"
        "assert answer.status_code == 200 and answer.get_json()['cards']\n"
        "print('matplotlib' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.strip() == "False"
