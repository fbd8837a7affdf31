"""FHIR date and dateTime values to timezone-aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def parse_fhir_datetime(value: object) -> datetime | None:
    """Parse YYYY, YYYY-MM, YYYY-MM-DD or a full dateTime; None for anything else.

    Partial dates take their first day; a dateTime without an offset is read as UTC.
    """
    if not isinstance(value, str) or len(value) < 4:
        return None
    return _parse(value)


@lru_cache(maxsize=4096)
def _parse(value: str) -> datetime | None:
    text = value.strip()
    try:
        if len(text) == 4:
            return datetime(int(text), 1, 1, tzinfo=UTC)
        if len(text) == 7:
            return datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def first_datetime(*values: object) -> datetime | None:
    for value in values:
        parsed = parse_fhir_datetime(value)
        if parsed:
            return parsed
    return None
