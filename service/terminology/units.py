"""Convert lab and vital-sign quantities to one canonical unit per analyte (UCUM codes and common variants)."""

from __future__ import annotations

import math
from functools import lru_cache

# canonical unit -> {normalised unit spelling: factor to the canonical unit}
_CELL_COUNT = {
    "10*9/l": 1.0,
    "10*3/ul": 1.0,  # 10^3 per microlitre is 10^9 per litre
    "10*3/mm3": 1.0,  # a cubic millimetre is a microlitre
    "k/ul": 1.0,
    "thou/ul": 1.0,
    "10*6/l": 0.001,
    "/ul": 0.001,
    "/mm3": 0.001,
    "cells/ul": 0.001,
    "{cells}/ul": 0.001,
    "cells/mm3": 0.001,
}
FACTORS: dict[str, dict[str, float]] = {
    "10*9/L": _CELL_COUNT,
    "g/L": {"g/l": 1.0, "g/dl": 10.0, "mg/dl": 0.01},
    "kg": {
        "kg": 1.0,
        "g": 0.001,
        "[lb_av]": 0.45359237,
        "lb": 0.45359237,
        "lbs": 0.45359237,
        "[oz_av]": 0.028349523125,
    },
    "U/L": {"u/l": 1.0, "iu/l": 1.0, "[iu]/l": 1.0, "units/l": 1.0},
    "fL": {"fl": 1.0, "um3": 1.0},
    "umol/L": {"umol/l": 1.0},
    "mL/min/{1.73_m2}": {"ml/min/{1.73_m2}": 1.0, "ml/min/1.73m2": 1.0, "ml/min/1.73_m2": 1.0, "ml/min": 1.0},
    "{INR}": {"{inr}": 1.0, "inr": 1.0, "1": 1.0, "{ratio}": 1.0, "ratio": 1.0, "": 1.0},
}


@lru_cache(maxsize=512)
def normalise_unit(unit: str) -> str:
    """Fold the spellings EHRs use for one unit into one key (x10E3/uL, 10^3/µL and 10*3/uL alike)."""
    text = unit.strip().lower().replace(" ", "").replace("µ", "u").replace("μ", "u").replace("×", "x")
    for power in ("x10e", "x10^", "x10*", "10e", "10^"):
        text = text.replace(power, "10*")
    return text.replace("cumm", "mm3").replace("mm^3", "mm3").replace("{1.73m2}", "{1.73_m2}")


def factor_table(canonical: str, conversions: dict[str, float] | None = None) -> dict[str, float]:
    """Normalised unit -> factor to the canonical unit: the generic factors, overridden by an analyte's own."""
    return {**FACTORS.get(canonical, {}), **{normalise_unit(u): f for u, f in (conversions or {}).items()}}


def convert(value: object, unit: str | None, factors: dict[str, float]) -> float | None:
    """The value in the canonical unit of `factors` (from `factor_table`), or None when the unit is unknown or the
    value is not a number. Tables are built once per analyte: this runs for every lab result of every call."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    factor = factors.get(normalise_unit(unit) if isinstance(unit, str) else "")
    return None if factor is None else float(value) * factor


UCUM_FOR_READERS = {"10*9/L": "x10^9/L", "10*12/L": "x10^12/L", "{INR}": "", "mL/min/{1.73_m2}": "mL/min/1.73 m2"}


def display_unit(unit: str) -> str:
    """A UCUM unit as a card reader expects it ("10*9/L" -> "x10^9/L"); annotations lose their braces, which card
    text must never show."""
    if unit in UCUM_FOR_READERS:
        return UCUM_FOR_READERS[unit]
    return unit.replace("{", "").replace("}", "").replace("_", " ")
