"""The PKI tests use the fixtures of tests/unit/signing/conftest.py (one PKI per test
session, a fresh SQLite database per test); these names stay importable from here."""

from __future__ import annotations

from tests.unit.signing.kit import AGENCY, AGENCY_NAME, PASSPHRASE, PUBLIC_URL, settings_for

__all__ = ["AGENCY", "AGENCY_NAME", "PASSPHRASE", "PUBLIC_URL", "settings_for"]
