"""What the blueprints share, built once by create_app and kept on the Flask app."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from flask import Flask, current_app

from service.config import Settings
from service.hooks import HookPipeline
from service.observability.metrics import Metrics
from service.smart import SmartApp
from service.store import Storage


@dataclass(frozen=True)
class AppState:
    settings: Settings
    pipeline: HookPipeline
    storage: Storage
    metrics: Metrics
    smart: SmartApp | None = None  # the monitoring timeline's SMART client, when configured
    hash_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def patient_hash(self, patient_id: str) -> str:
        """A keyed hash: log lines can be correlated without revealing the patient id."""
        return hmac.new(self.hash_key, patient_id.encode(), hashlib.sha256).hexdigest()[:16]


EXTENSION = "aza_cds"  # where create_app keeps the AppState on the Flask app


def state() -> AppState:
    """The parts of the app handling the current request."""
    return state_of(current_app)


def state_of(app: Flask) -> AppState:
    """The parts of a built app (its storage, pipeline, settings): for the CLI and tests, which hold the app."""
    return app.extensions[EXTENSION]
