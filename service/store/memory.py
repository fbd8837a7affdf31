"""In-memory stores with the same behaviour as the SQL ones, for tests and tools that do not test storage.

Nothing here survives the process: never use them to serve EHRs (create_app builds the SQL stores by default)."""

from __future__ import annotations

import threading

from service.store.feedback import dedup_row


class MemoryFeedbackStore:
    def __init__(self):
        self._rows: dict[str, dict] = {}
        self._lock = threading.Lock()

    def save(self, service_id: str, items: list[dict]) -> tuple[int, int]:
        rows = [dedup_row(service_id, item) for item in items]  # all items are checked before any is kept
        with self._lock:
            new = {row["dedup_key"]: row for row in rows if row["dedup_key"] not in self._rows}
            self._rows |= new
        return len(new), len(rows) - len(new)

    def count(self) -> int:
        return len(self._rows)

    def dispose(self) -> None:
        pass


class MemoryAuditStore:
    def __init__(self):
        self.calls: list[tuple[dict, list[dict]]] = []

    def record(self, call: dict, cards: list[dict]) -> None:
        self.calls.append((call, cards))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class MemoryTokenIdStore:
    def __init__(self):
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        with self._lock:
            if (iss, jti) in self._seen:
                return False
            self._seen.add((iss, jti))
            return True
