"""Terminology: matching codes and text against the pack's value sets, and unit conversion."""

from service.terminology.matcher import Match, Terminology
from service.terminology.units import convert, factor_table, normalise_unit

__all__ = ["Match", "Terminology", "convert", "factor_table", "normalise_unit"]
