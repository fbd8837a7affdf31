"""What the service needs of its stores, one Protocol each: the SQL stores beside this module implement them for
serving, and `memory.py` implements them in memory for tests and tools."""

from __future__ import annotations

from typing import Protocol


class FeedbackStore(Protocol):
    def save(self, service_id: str, items: list[dict]) -> tuple[int, int]:
        """Store validated feedback items; return (newly stored, already stored)."""
        ...

    def count(self) -> int: ...

    def dispose(self) -> None:
        """Drop pooled connections (after a fork)."""
        ...


class AuditStore(Protocol):
    def record(self, call: dict, cards: list[dict]) -> None:
        """Queue one hook call (keys of the `audit` table) and the cards it returned."""
        ...

    def flush(self) -> None:
        """Write everything queued so far."""
        ...

    def close(self) -> None:
        """Write what is queued and stop writing in the background (worker exit)."""
        ...


class TokenIdStore(Protocol):
    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        """Record the token id; False when it was seen before within its lifetime (a replay)."""
        ...
