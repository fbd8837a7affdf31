"""The timeline drawn: matplotlib's object API (no pyplot, no display; safe in server threads), SVG or PNG.

Rows share one time axis: the tests due (met, missed, the next), the daily dose as steps with mg/kg, then one small
multiple per lab with its hold threshold as a hatched band. Greyscale-safe: meaning is carried by marker shape and
line style, not colour. Every word comes from the pack's `timeline-` phrases.
"""

from __future__ import annotations

import io
import threading
from datetime import datetime, time, timedelta

from service.knowledge import KnowledgePack
from service.rules.common import number
from service.terminology.units import display_unit
from service.timeline.model import LabPanel, Timeline

ROW_HEIGHT = 1.35  # inches per small multiple
# matplotlib's settings (rcParams, which rc_context changes for a draw) are process-wide: one draw at a time per
# worker process; a timeline takes a fraction of a second, and hook calls never draw.
_DRAWING = threading.Lock()


def render(timeline: Timeline, pack: KnowledgePack, fmt: str = "svg") -> bytes:
    """The chart as SVG (text kept as text, for search and screen readers) or PNG."""
    with _DRAWING:
        return _render(timeline, pack, fmt)


def _render(timeline: Timeline, pack: KnowledgePack, fmt: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = 2 + len(timeline.panels)
    figure = Figure(figsize=(10, 1.2 + ROW_HEIGHT * rows), layout="constrained")
    heights = [0.6 + 0.35 * len(timeline.schedules), 1.2, *([1] * len(timeline.panels))]
    axes = figure.subplots(rows, 1, sharex=True, height_ratios=heights)
    _schedule_row(axes[0], timeline, pack)
    _dose_row(axes[1], timeline, pack)
    for ax, panel in zip(axes[2:], timeline.panels, strict=True):
        _lab_row(ax, panel, pack)
    right = _right_edge(timeline)
    for ax in axes:
        _drug_lines(ax, timeline, pack, label=ax is axes[1])
        ax.axvline(timeline.end, color="black", linewidth=0.8)  # today
        ax.set_xlim(timeline.start, right)
        ax.grid(axis="x", color="0.85", linewidth=0.5)
    figure.suptitle(_title(timeline, pack), fontsize=11)
    figure.supxlabel(_footer(timeline, pack), fontsize=7, wrap=True)
    out = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "aza-cds"}):
        figure.savefig(out, format=fmt, metadata={"Date": None} if fmt == "svg" else None, dpi=110)
    return out.getvalue()


def _right_edge(timeline: Timeline) -> datetime:
    """Today, or the next due date when it is ahead (up to 100 days), so that the next test shows."""
    ahead = [i.due for s in timeline.schedules for i in s.intervals if i.met is None]
    later = max((datetime.combine(d, time(), timeline.end.tzinfo) for d in ahead), default=timeline.end)
    return min(max(later, timeline.end), timeline.end + timedelta(days=100)) + timedelta(days=5)


def _title(timeline: Timeline, pack: KnowledgePack) -> str:
    return pack.phrase("timeline-title", drug=timeline.drug, start=timeline.start.date(), end=timeline.end.date())


def _footer(timeline: Timeline, pack: KnowledgePack) -> str:
    genes = [pack.phrase("timeline-phenotype", gene=g, phenotype=p) for g, p in timeline.phenotypes.items()]
    phenotypes = "; ".join(genes) or pack.phrase("timeline-no-phenotype")
    footer = pack.phrase("timeline-footer", pack=timeline.pack, phenotypes=phenotypes, now=timeline.end.date())
    if timeline.empty_panels:
        footer += " " + pack.phrase("timeline-no-results", analytes=", ".join(timeline.empty_panels))
    return footer


def _schedule_row(ax, timeline: Timeline, pack: KnowledgePack) -> None:
    """One line per schedule: each test's day (|), circled when it came in time, the day an interval was overrun
    (x: the card said overdue from then on), and the next due date (v)."""
    for row, schedule in enumerate(timeline.schedules):
        y = -row
        tests = [interval.after for interval in schedule.intervals]
        ax.plot(tests, [y] * len(tests), "|", color="black", markersize=9)
        in_time = [later.after for earlier, later in zip(schedule.intervals, schedule.intervals[1:], strict=False)
                   if earlier.met]  # fmt: skip
        ax.plot(in_time, [y] * len(in_time), "o", mfc="none", mec="black", markersize=7)
        missed = [i.overdue_from for i in schedule.intervals if i.met is False]
        ax.plot(missed, [y] * len(missed), "x", color="black", markersize=7, mew=1.5)
        for interval in (i for i in schedule.intervals if i.met is None):
            ax.plot([interval.due], [y], "v", color="black", markersize=8)
            late = interval.overdue_from <= timeline.end.date()
            phrase = "timeline-next-overdue" if late else "timeline-next-due"
            text = pack.phrase(phrase, due=interval.due, overdue=interval.overdue_from)
            ax.annotate(text, (interval.due, y), xytext=(-6, 6), textcoords="offset points", ha="right", fontsize=7)
    ax.set_yticks([-row for row in range(len(timeline.schedules))], [s.test for s in timeline.schedules], fontsize=7)
    ax.set_ylim(-len(timeline.schedules) + 0.4, 0.8)
    ax.set_ylabel(pack.phrase("timeline-schedule-axis"), fontsize=7)


def _dose_row(ax, timeline: Timeline, pack: KnowledgePack) -> None:
    for step in timeline.doses:
        if step.mg_per_day is None:
            ax.annotate(pack.phrase("timeline-dose-unknown"), (step.start, 0), fontsize=7)
            continue
        ax.hlines(step.mg_per_day, step.start, step.end, color="black", linewidth=2.5)
        ax.annotate(_dose_text(step.mg_per_day, step.mg_per_kg, pack), (step.start, step.mg_per_day),
                    xytext=(2, 4), textcoords="offset points", fontsize=7)  # fmt: skip
    top = max((s.mg_per_day for s in timeline.doses if s.mg_per_day), default=100)
    ax.set_ylim(0, top * 1.35)
    ax.set_ylabel(pack.phrase("timeline-dose-axis"), fontsize=7)


def _dose_text(mg: float, per_kg: float | None, pack: KnowledgePack) -> str:
    if per_kg is None:
        return pack.phrase("timeline-dose-step-no-weight", mg=number(mg))
    return pack.phrase("timeline-dose-step", mg=number(mg), per_kg=f"{per_kg:.2f}")


def _lab_row(ax, panel: LabPanel, pack: KnowledgePack) -> None:
    days = [m.effective for m, _ in panel.points]
    values = [m.value for m, _ in panel.points]
    ax.plot(days, values, "-", color="0.55", linewidth=1)
    plain = [(m.effective, m.value) for m, flagged in panel.points if not flagged]
    flagged = [(m.effective, m.value) for m, is_flagged in panel.points if is_flagged]
    ax.plot([d for d, _ in plain], [v for _, v in plain], "o", mfc="white", mec="black", markersize=4.5)
    ax.plot([d for d, _ in flagged], [v for _, v in flagged], "X", color="black", markersize=8)
    if panel.limit:
        low, high = min([*values, panel.limit.value]), max([*values, panel.limit.value])
        pad = (high - low) * 0.25 or abs(high) * 0.25 or 1
        ax.set_ylim(low - pad, high + pad)
        edge = ax.get_ylim()[0] if panel.limit.direction == "below" else ax.get_ylim()[1]
        ax.axhspan(min(edge, panel.limit.value), max(edge, panel.limit.value), facecolor="0.9", hatch="///",
                   edgecolor="0.6", linewidth=0)  # fmt: skip
        ax.axhline(panel.limit.value, color="black", linestyle="--", linewidth=1)
        limit = pack.phrase(
            "timeline-limit", direction=pack.phrase(panel.limit.direction), value=number(panel.limit.value)
        )
        ax.annotate(limit, (1, panel.limit.value), xycoords=("axes fraction", "data"), xytext=(-2, 2),
                    textcoords="offset points", ha="right", fontsize=6)  # fmt: skip
    if panel.trend:
        ax.annotate(panel.trend, (0, 0), xycoords="axes fraction", xytext=(3, 3), textcoords="offset points",
                    fontsize=7, style="italic")  # fmt: skip
    ax.set_ylabel(f"{panel.display}\n{display_unit(panel.unit)}", fontsize=7)


def _drug_lines(ax, timeline: Timeline, pack: KnowledgePack, label: bool) -> None:
    """Starts (dash-dot) and stops (dotted) of interacting drugs, across every row; named on the dose row."""
    for span in timeline.drugs:
        for moment, style, phrase in ((span.start, "-.", "timeline-started"), (span.end, ":", "timeline-stopped")):
            if moment is None or not timeline.start <= moment < timeline.end:
                continue
            ax.axvline(moment, color="0.3", linestyle=style, linewidth=1)
            if label:
                ax.annotate(pack.phrase(phrase, drug=span.display), (moment, 1), xycoords=("data", "axes fraction"),
                            xytext=(3, -10), textcoords="offset points", fontsize=7, rotation=0)  # fmt: skip
