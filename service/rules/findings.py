"""What a rule found: the input of card rendering."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.record import MedicationUse

SEVERITY = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    rule_id: str
    variant: str  # which card text of the rule applies
    values: dict[str, str] = field(default_factory=dict)  # template fields; EHR text is escaped when rendered
    phrases: dict[str, str] = field(default_factory=dict)  # placeholder -> pack phrase template to fill first
    items: tuple[str, ...] = ()  # EHR-derived lines, rendered as a bullet list into {problems}
    basis: tuple[str, ...] = ()  # how the data behind the finding was identified, shown under the detail
    draft_reference: str | None = None  # the draft order a "delete-draft" suggestion would remove
    indicator: str | None = None  # overrides the rule's indicator when set
    dose_use: MedicationUse | None = None  # the draft an "update-dose" suggestion would change ...
    dose_factor: float | None = None  # ... by this factor

    def sort_key(self, rule) -> int:
        return SEVERITY[self.indicator or rule.indicator_for(self.variant)]
