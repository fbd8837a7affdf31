"""Settings from AZA_CDS_* variables: defaults, validation, clear refusals."""

from __future__ import annotations

import pytest

from service import create_app
from service.config import ConfigError, Settings


def test_defaults_need_no_external_service(tmp_path):
    settings = Settings.from_mapping({"AZA_CDS_DATA_DIR": str(tmp_path)})
    assert settings.auth == "required" and settings.fhir_allowlist == () and not settings.dev
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path}/aza-cds.sqlite3"


def test_lists_and_numbers_are_parsed():
    settings = Settings.from_mapping(
        {
            "AZA_CDS_FHIR_ALLOWLIST": " https://a.example/fhir , https://b.example/r4 ",
            "AZA_CDS_FHIR_TIMEOUT_SECONDS": "1.5",
        }
    )
    assert settings.fhir_allowlist == ("https://a.example/fhir", "https://b.example/r4")
    assert settings.fhir_timeout_seconds == 1.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTH", "maybe"),
        ("MAX_BODY_BYTES", "lots"),
        ("FHIR_TIMEOUT_SECONDS", "-1"),
        ("FHIR_MAX_PAGES", "0"),
        ("FHIR_TIMEOUT_SECONDS", "nan"),
        ("AUDIT_FLUSH_SECONDS", "-0.5"),
        ("TIMELINE_MONTHS", "0"),
        ("TIMELINE_MONTHS", "121"),
        ("TIMELINE_MONTHS", "a year"),
    ],
)
def test_bad_values_are_refused_with_the_variable_name(name, value):
    with pytest.raises(ConfigError, match=f"AZA_CDS_{name}"):
        Settings.from_mapping({f"AZA_CDS_{name}": value})


def test_zero_audit_flush_interval_means_written_during_the_call():
    assert Settings.from_mapping({}).audit_flush_seconds == 0.2
    assert Settings.from_mapping({"AZA_CDS_AUDIT_FLUSH_SECONDS": "0"}).audit_flush_seconds == 0


def test_auth_required_without_trust_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError, match="AZA_CDS_TRUST_FILE"):
        create_app({"AZA_CDS_AUTH": "required", "AZA_CDS_DATA_DIR": str(tmp_path)})


def test_card_switches():
    settings = Settings.from_mapping({"AZA_CDS_INFO_CARDS": "off", "AZA_CDS_ORDER_SIGN_INFO": "on"})
    assert settings.info_cards is False and settings.order_sign_info is True
    with pytest.raises(ConfigError, match="AZA_CDS_INFO_CARDS"):
        Settings.from_mapping({"AZA_CDS_INFO_CARDS": "sometimes"})


def test_the_timeline_app_is_off_unless_a_client_id_is_set():
    settings = Settings.from_mapping({})
    assert (settings.smart_client_id, settings.timeline_months) == ("", 12)
    assert Settings.from_mapping({"AZA_CDS_TIMELINE_MONTHS": "24"}).timeline_months == 24
