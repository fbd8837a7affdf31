"""The monitoring timeline: the patient record drawn over time (model.py: the data; chart.py: the picture;
page.py: the HTML page with the same data as tables)."""

from __future__ import annotations

from service.knowledge import KnowledgePack
from service.record import PatientRecord
from service.timeline.model import Timeline, build_timeline


def draw(record: PatientRecord, pack: KnowledgePack, months: int, fmt: str, note: str = "") -> bytes:
    """The timeline of the last `months` of `record` as SVG, PNG or an HTML page (chart and tables; `note` is
    shown under the page's title)."""
    from service.timeline.chart import render  # matplotlib is imported when a timeline is drawn, not before
    from service.timeline.page import page

    timeline = build_timeline(record, pack, months)
    if fmt == "html":
        return page(timeline, pack, render(timeline, pack, "svg"), note).encode()
    return render(timeline, pack, fmt)


__all__ = ["Timeline", "build_timeline", "draw"]
