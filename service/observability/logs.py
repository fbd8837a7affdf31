"""Logging: JSON lines for the service, with the hookInstance of the call being handled as correlation id.

What is logged never holds tokens or patient data: patient ids appear only as a keyed hash (see http/state.py).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

hook_instance: ContextVar[str | None] = ContextVar("hook_instance", default=None)


class Correlation(logging.Filter):
    """Stamps each record with the hookInstance of the call this thread is handling, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.hookInstance = hook_instance.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation = getattr(record, "hookInstance", None)  # set by the Correlation filter
        if correlation:
            line["hookInstance"] = correlation
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Correlation())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s"))  # fmt: skip
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("alembic", "httpx", "httpcore"):  # their INFO lines are per request or per migration step
        logging.getLogger(chatty).setLevel(logging.WARNING)
