"""Settings from `AZA_CDS_*` environment variables (documented in the README's configuration table)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from service.errors import SetupError

# The knowledge pack the package carries (package data; in a checkout, `service/cards` links to the top-level
# `cards/`), so an installed aza-cds runs from any directory. AZA_CDS_KNOWLEDGE_DIR overrides it.
EMBEDDED_PACK = Path(str(files("service") / "cards"))


class ConfigError(SetupError, ValueError):
    """A setting has a value the service cannot run with; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    auth: str = "required"
    trust_file: Path | None = None
    public_url: str = ""
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-* headers are believed
    threads: int = 32  # per gunicorn worker: how many slow clients it takes to hold a worker
    request_timeout_seconds: float = 10.0  # a request still being read or answered after this is cut off
    max_draft_orders: int = 200  # an order session has a few dozen at most; pairs of drafts cost their square
    metrics_port: int = 0  # 0: /metrics on the service's port; else only on this port (`serve`), not the public one
    dev: bool = False
    max_prefetch_entries: int = 20_000
    lab_prefetch: str = "by-code"  # or "by-category": every laboratory result, for labs with local codes only
    condition_prefetch: str = "all"  # or "current": for EHRs that record a clinical status on every condition
    fhir_allowlist: tuple[str, ...] = ()
    data_dir: Path = Path("var")
    database_url: str = ""
    knowledge_dir: Path = EMBEDDED_PACK
    cors_origins: tuple[str, ...] = ("*",)
    max_body_bytes: int = 5_000_000
    fhir_timeout_seconds: float = 2.0
    fhir_max_pages: int = 10
    fhir_max_response_bytes: int = 10_000_000
    patient_hash_key: str = ""
    audit_retention_days: int = 365
    audit_flush_seconds: float = 0.2
    info_cards: bool = True
    order_sign_info: bool = False
    smart_client_id: str = ""  # the monitoring timeline's SMART client id in the EHR; empty: no app, no card links
    smart_client_secret: str = ""  # for a confidential symmetric client; empty: public, or the key below
    smart_client_key: Path | None = None  # PEM private key of a confidential asymmetric client (ES384 or RS384)
    smart_session_key: str = ""  # signs the launch cookie; empty: one random key per process (set it for replicas)
    timeline_months: int = 12  # how far back the monitoring timeline reaches

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'aza-cds.sqlite3').resolve()}"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Read settings from a mapping of `AZA_CDS_*` names (the environment, or overrides in tests)."""

        def get(name: str, default: str = "") -> str:
            return str(values.get(f"AZA_CDS_{name}", default)).strip()

        auth = get("AUTH", "required").lower()
        if auth not in ("off", "required"):
            raise ConfigError(f"AZA_CDS_AUTH must be 'required' or 'off', not {auth!r}")
        public_url = get("PUBLIC_URL").rstrip("/")
        if public_url and not public_url.startswith(("https://", "http://")):
            raise ConfigError(f"AZA_CDS_PUBLIC_URL must be an http(s) URL, not {public_url!r}")
        return cls(
            auth=auth,
            trust_file=Path(get("TRUST_FILE")) if get("TRUST_FILE") else None,
            public_url=public_url,
            trusted_proxies=_number(get, "TRUSTED_PROXIES", 0, int, zero_allowed=True),
            threads=_number(get, "THREADS", 32, int),
            request_timeout_seconds=_number(get, "REQUEST_TIMEOUT_SECONDS", 10.0, float),
            metrics_port=_number(get, "METRICS_PORT", 0, int, zero_allowed=True),
            max_draft_orders=_number(get, "MAX_DRAFT_ORDERS", 200, int),
            dev=_switch(get, "DEV", False),
            max_prefetch_entries=_number(get, "MAX_PREFETCH_ENTRIES", 20_000, int),
            lab_prefetch=_choice(get, "PREFETCH_LABS", ("by-code", "by-category")),
            condition_prefetch=_choice(get, "PREFETCH_CONDITIONS", ("all", "current")),
            fhir_allowlist=_split(get("FHIR_ALLOWLIST")),
            data_dir=Path(get("DATA_DIR", "var")),
            database_url=get("DATABASE_URL"),
            knowledge_dir=Path(get("KNOWLEDGE_DIR")) if get("KNOWLEDGE_DIR") else EMBEDDED_PACK,
            cors_origins=_split(get("CORS_ORIGINS", "*")) or ("*",),
            max_body_bytes=_number(get, "MAX_BODY_BYTES", 5_000_000, int),
            fhir_timeout_seconds=_number(get, "FHIR_TIMEOUT_SECONDS", 2.0, float),
            fhir_max_pages=_number(get, "FHIR_MAX_PAGES", 10, int),
            fhir_max_response_bytes=_number(get, "FHIR_MAX_RESPONSE_BYTES", 10_000_000, int),
            patient_hash_key=get("PATIENT_HASH_KEY"),
            audit_retention_days=_number(get, "AUDIT_RETENTION_DAYS", 365, int),
            audit_flush_seconds=_number(get, "AUDIT_FLUSH_SECONDS", 0.2, float, zero_allowed=True),
            info_cards=_switch(get, "INFO_CARDS", True),
            order_sign_info=_switch(get, "ORDER_SIGN_INFO", False),
            smart_client_id=get("SMART_CLIENT_ID"),
            smart_client_secret=get("SMART_CLIENT_SECRET"),
            smart_client_key=Path(get("SMART_CLIENT_KEY")) if get("SMART_CLIENT_KEY") else None,
            smart_session_key=get("SMART_SESSION_KEY"),
            timeline_months=_months(get),
        )

    @classmethod
    def from_env(cls, overrides: Mapping[str, Any] | None = None) -> Settings:
        return cls.from_mapping({**os.environ, **(overrides or {})})


def _switch(get, name: str, default: bool) -> bool:
    raw = get(name).lower()
    if not raw:
        return default
    if raw not in ("on", "off"):
        raise ConfigError(f"AZA_CDS_{name} must be 'on' or 'off', not {raw!r}")
    return raw == "on"


def _choice(get, name: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, the first being the default."""
    raw = get(name).lower() or choices[0]
    if raw not in choices:
        raise ConfigError(f"AZA_CDS_{name} must be {' or '.join(repr(c) for c in choices)}, not {raw!r}")
    return raw


def _months(get) -> int:
    months = _number(get, "TIMELINE_MONTHS", 12, int)
    if months > 120:
        raise ConfigError(f"AZA_CDS_TIMELINE_MONTHS must be at most 120, not {months}")
    return months


def _split(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _number(get, name: str, default, kind, zero_allowed: bool = False):
    raw = get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"AZA_CDS_{name} must be a number, not {raw!r}") from None
    if value < 0 or (value == 0 and not zero_allowed) or value != value:  # value != value: NaN
        raise ConfigError(f"AZA_CDS_{name} must be {'zero or ' if zero_allowed else ''}positive, not {raw!r}")
    return value
