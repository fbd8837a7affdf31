"""The timeline as an HTML page: the chart as an image, and under it the same data as tables (for screen readers,
printing, and anyone who wants the numbers). Everything from the record is escaped; the page needs no script."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape

from service.knowledge import KnowledgePack
from service.rules.common import number
from service.terminology.units import display_unit
from service.timeline.model import Timeline

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1rem;color:#111}img{max-width:100%;height:auto}"
    "table{border-collapse:collapse;margin:0 0 1.5rem;font-size:.85rem}th,td{border:1px solid #999;"
    "padding:.2rem .5rem;text-align:left}caption{font-weight:bold;text-align:left;padding:.3rem 0}"
    ".error{border:2px solid #111;padding:1rem;max-width:40rem}"
)
# The page's Content-Security-Policy: no script, nothing fetched; only this stylesheet and the chart's data: image.
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; img-src data:; style-src 'sha256-{STYLE_HASH}'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors *"  # an EHR shows a SMART app in a frame of its own origin, which this service cannot know
)


def page(timeline: Timeline, pack: KnowledgePack, svg: bytes, note: str = "") -> str:
    title = escape(
        pack.phrase("timeline-title", drug=timeline.drug, start=timeline.start.date(), end=timeline.end.date())
    )
    image = base64.b64encode(svg).decode()
    lead = f"<p>{escape(note)}</p>" if note else ""
    body = f'<h1>{title}</h1>{lead}<img alt="{title}" src="data:image/svg+xml;base64,{image}">{tables(timeline, pack)}'
    return _document(title, body)


def error_page(title: str, message: str) -> str:
    return _document(
        escape(title), f'<div class="error" role="alert"><h1>{escape(title)}</h1><p>{escape(message)}</p></div>'
    )


def _document(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{STYLE}</style></head>'
        f"<body>{body}</body></html>"
    )


def tables(timeline: Timeline, pack: KnowledgePack) -> str:
    p = pack.phrase
    doses = [[when(s.start, pack), when(s.end, pack), s.label,
              number(s.mg_per_day) if s.mg_per_day is not None else p("timeline-dose-unknown"),
              f"{s.mg_per_kg:.2f}" if s.mg_per_kg is not None else ""] for s in timeline.doses]  # fmt: skip
    results = [
        [panel.display, str(m.effective.date()), f"{number(m.value)} {display_unit(panel.unit)}",
         p("timeline-yes" if flagged else "timeline-no"), _limit(panel, pack)]
        for panel in timeline.panels
        for m, flagged in panel.points
    ]  # fmt: skip
    today = timeline.end.date()

    def status(met: bool | None, overdue_from) -> str:
        if met is None:  # the open interval: overdue once its slack has passed, as the card says
            return p("timeline-overdue" if overdue_from <= today else "timeline-open")
        return p("timeline-met" if met else "timeline-missed")

    due = [[s.test, str(i.after), str(i.due), str(i.overdue_from), status(i.met, i.overdue_from)]
           for s in timeline.schedules for i in s.intervals]  # fmt: skip
    drugs = [[d.display, d.label, when(d.start, pack), when(d.end, pack), d.rule_id] for d in timeline.drugs]
    return "".join(
        [
            _table(
                p("timeline-table-schedule"),
                [
                    "timeline-col-test",
                    "timeline-col-after",
                    "timeline-col-due",
                    "timeline-col-overdue",
                    "timeline-col-status",
                ],
                due,
                pack,
            ),  # fmt: skip
            _table(
                p("timeline-table-doses"),
                [
                    "timeline-col-from",
                    "timeline-col-to",
                    "timeline-col-order",
                    "timeline-col-dose",
                    "timeline-col-per-kg",
                ],
                doses,
                pack,
            ),  # fmt: skip
            _table(
                p("timeline-table-drugs"),
                [
                    "timeline-col-drug",
                    "timeline-col-order",
                    "timeline-col-from",
                    "timeline-col-to",
                    "timeline-col-rule",
                ],
                drugs,
                pack,
            ),  # fmt: skip
            _table(
                p("timeline-table-results"),
                [
                    "timeline-col-test",
                    "timeline-col-date",
                    "timeline-col-value",
                    "timeline-col-flag",
                    "timeline-col-limit",
                ],
                results,
                pack,
            ),  # fmt: skip
        ]
    )


def _limit(panel, pack: KnowledgePack) -> str:
    if panel.limit is None:
        return ""
    return pack.phrase("timeline-limit", direction=pack.phrase(panel.limit.direction), value=number(panel.limit.value))


def _table(caption: str, columns: list[str], rows: list[list[str]], pack: KnowledgePack) -> str:
    head = "".join(f'<th scope="col">{escape(pack.phrase(column))}</th>' for column in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def when(moment: datetime | None, pack: KnowledgePack) -> str:
    return moment.date().isoformat() if moment else pack.phrase("timeline-unknown-date")
