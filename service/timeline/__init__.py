"""The monitoring timeline: the patient record drawn over time (model.py: the data; chart.py: the picture;
page.py: the HTML page with the same data as tables)."""

from service.timeline.model import Timeline, build_timeline

__all__ = ["Timeline", "build_timeline"]
