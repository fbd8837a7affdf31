"""`aza-cds timeline`: the monitoring timeline of a replay fixture or a bare CDS Hooks request (its prefetch),
drawn to a file, without a running service or an EHR."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from service.errors import ToolError
from service.hooks.catalogue import SERVICES
from service.protocol import HookCall, check_request
from service.timeline import draw

FORMATS = {".svg": "svg", ".png": "png", ".html": "html"}


class TimelineInputError(ToolError):
    """The input is not a fixture or a CDS Hooks request, or the output's format is not known."""


def draw_request(path: Path, out: Path, months: int, now: datetime | None = None) -> None:
    """Read `path`, draw its patient's timeline over `months`, write `out` (.svg, .png or .html)."""
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise TimelineInputError(f"{out}: the output must end in .svg, .png or .html")
    now = now or datetime.now(UTC)
    call = _call(path, now)
    from service.app import create_app
    from service.http.state import state_of
    from service.store import Storage

    pipeline = state_of(create_app({"AZA_CDS_AUTH": "off"}, storage=Storage.in_memory())).pipeline
    out.write_bytes(draw(pipeline.record(call, now), pipeline.pack, months, fmt))


def _call(path: Path, now: datetime) -> HookCall:
    """A fixture (`service`, `request`; relative dates are expanded) or a bare request."""
    from service.replay import expand_dates

    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise TimelineInputError(f"{path}: cannot be read as JSON: {error}") from None
    if isinstance(document, dict) and isinstance(document.get("request"), dict):
        document = document["request"]
    if not isinstance(document, dict) or not isinstance(document.get("hook"), str):
        raise TimelineInputError(f"{path}: neither a replay fixture nor a CDS Hooks request (no 'hook')")
    service = next((s for s in SERVICES.values() if s.hook == document["hook"]), None)
    if service is None:
        raise TimelineInputError(f"{path}: no service of this service answers the hook {document['hook']!r}")
    document = expand_dates(document, now)
    check_request(service.hook, document)
    return HookCall.from_request(service.id, service.hook, document)
