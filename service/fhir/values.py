"""FHIR JSON read leniently: a value of the wrong JSON type reads as empty, never as an error. EHRs send every
shape; the readers ask for the type they need and go on."""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]  # a FHIR resource or element as decoded: `Any` stops at this boundary


def as_dict(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dicts(value: object) -> list[JsonObject]:
    """The objects of a JSON array (anything else in it is skipped)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def as_text(value: object) -> str:
    return value if isinstance(value, str) else ""
