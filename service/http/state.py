"""What the blueprints share, built once by create_app and kept on the Flask app."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from flask import current_app

from service.config import Settings
from service.hooks import HookPipeline
from service.observability.metrics import Metrics
from service.store import Storage


@dataclass(frozen=True)
class AppState:
    settings: Settings
    pipeline: HookPipeline
    storage: Storage
    metrics: Metrics
    hash_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def patient_hash(self, patient_id: str) -> str:
        """A keyed hash: log lines can be correlated without revealing the patient id."""
        return hmac.new(self.hash_key, patient_id.encode(), hashlib.sha256).hexdigest()[:16]


def state() -> AppState:
    return current_app.extensions["aza_cds"]
