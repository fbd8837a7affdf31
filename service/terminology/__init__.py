"""Terminology: matching codes and text against the pack's value sets, and unit conversion."""

from service.terminology.matcher import Match, Terminology
from service.terminology.units import convert, normalise_unit, to_canonical

__all__ = ["Match", "Terminology", "convert", "normalise_unit", "to_canonical"]
