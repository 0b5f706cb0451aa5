"""The verification report: frozen dataclasses that serialise to plain JSON.

Every time is an ISO 8601 string (UTC unless the signer wrote another offset), every
enumeration a lower-case string, so ``to_dict()`` output goes straight into ``json``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.common.contract import Verdict

#: Exit codes of ``lienthong verify``.
EXIT_CODES: dict[Verdict, int] = {
    Verdict.VALID: 0,
    Verdict.INVALID: 1,
    Verdict.INDETERMINATE: 2,
    Verdict.UNSIGNED: 3,
    Verdict.UNREADABLE: 4,
}


class Indication(StrEnum):
    """ETSI EN 319 102-1 main indication of one signature or time-stamp."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(StrEnum):
    """ETSI EN 319 102-1 sub-indications (clause 5.1.3), by their standard names."""

    # with TOTAL-FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    # with INDETERMINATE (EXPIRED and NOT_YET_VALID may also come with TOTAL-FAILED)
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    SIGNATURE_POLICY_NOT_AVAILABLE = "SIGNATURE_POLICY_NOT_AVAILABLE"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    NO_POE = "NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    GENERIC = "GENERIC"


#: Our verdict for each main indication.
VERDICT_OF: dict[Indication, Verdict] = {
    Indication.TOTAL_PASSED: Verdict.VALID,
    Indication.TOTAL_FAILED: Verdict.INVALID,
    Indication.INDETERMINATE: Verdict.INDETERMINATE,
}


class FieldKind(StrEnum):
    SIGNATURE = "signature"
    DOCUMENT_TIMESTAMP = "document_timestamp"
    EMPTY = "empty_field"
    UNKNOWN = "unknown"  # a filled field whose value could not even be classified


class Coverage(StrEnum):
    ENTIRE_FILE = "entire_file"
    ENTIRE_REVISION = "entire_revision"
    OTHER = "other"


class TimeSource(StrEnum):
    """Where the time at which a certificate was judged comes from."""

    NOW = "now"  # the verification time
    SIGNATURE_TIMESTAMP = "signature_timestamp"  # a trusted RFC 3161 token on the signature
    DOCUMENT_TIMESTAMP = "document_timestamp"  # a later trusted document time-stamp (LTA)
    CLAIMED = "claimed"  # the signer's own signingTime / /M: not proven


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    serial: str  # hexadecimal, as printed by OpenSSL
    not_before: str
    not_after: str
    sha256: str
    is_ca: bool
    common_name: str | None = None
    organization: str | None = None


@dataclass(frozen=True)
class RevocationInfo:
    """What is known about the revocation of one certificate of a chain."""

    subject: str
    serial: str
    status: str  # "good" | "revoked" | "unknown" | "not_checked" (trust anchor)
    kind: str | None = None  # "ocsp" | "crl"
    source: str | None = None  # "dss" | "cms" | "fetched" | "supplied"
    issued_at: str | None = None  # OCSP producedAt / CRL thisUpdate
    revoked_at: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TimestampInfo:
    """An RFC 3161 time-stamp token (on a signature, or a document time-stamp's own)."""

    time: str | None
    tsa: str | None
    intact: bool
    valid: bool
    trusted: bool
    problem: str | None = None
    validation_time: str | None = None
    validation_time_source: str | None = None
    chain: tuple[CertificateInfo, ...] = ()


@dataclass(frozen=True)
class ChangeInfo:
    """One change made in a revision after a signature, and how it was judged."""

    revision: int | None  # the revision that made it (None: not attributed)
    kind: str  # see ``changes.ChangeKind``
    detail: str
    allowed: bool  # permitted by the signature's permissions and invisible to a reader


@dataclass(frozen=True)
class SignatureReport:
    """One signature field (filled or empty) or one document time-stamp."""

    field_name: str
    kind: FieldKind
    verdict: Verdict
    reasons: tuple[str, ...] = ()  # why the verdict is not ``valid`` (empty when valid)
    # ETSI EN 319 102-1: TOTAL-PASSED / TOTAL-FAILED / INDETERMINATE (None: an empty field)
    indication: Indication | None = None
    sub_indication: SubIndication | None = None
    # every change made after this signature, judged: see ``ChangeInfo``
    changes: tuple[ChangeInfo, ...] = ()
    notes: tuple[str, ...] = ()  # facts worth showing that do not change the verdict
    sub_filter: str | None = None
    revision: int | None = None  # index of the revision the signature belongs to
    byte_range: tuple[int, ...] | None = None
    intact: bool | None = None  # the digest over the byte range matches
    crypto_valid: bool | None = None  # the CMS signature value verifies
    digest_algorithm: str | None = None
    signature_mechanism: str | None = None
    signer: CertificateInfo | None = None
    chain: tuple[CertificateInfo, ...] = ()
    trusted: bool | None = None
    trust_anchor: str | None = None
    trust_problem: str | None = None  # AdES sub-indication, e.g. NO_CERTIFICATE_CHAIN_FOUND
    # The certification path built from the signer to a trust anchor: subjects, signer
    # first, anchor last (``chain`` above may be a best guess by names when none was built);
    # when none was built, ``trust_path_problem`` says why in words.
    trust_path: tuple[str, ...] = ()
    trust_path_problem: str | None = None
    revocation: tuple[RevocationInfo, ...] = ()
    signing_time: str | None = None  # as claimed by the signer
    validation_time: str | None = None
    validation_time_source: TimeSource | None = None
    timestamp: TimestampInfo | None = None  # signature time-stamp token (B-T)
    pades_level: str | None = None  # "B-B" | "B-T" | "B-LT" | "B-LTA" | None (not PAdES)
    coverage: Coverage | None = None
    coverage_detail: str | None = None  # pyHanko's SignatureCoverageLevel name
    modification_level: str | None = None  # NONE | LTA_UPDATES | FORM_FILLING | ANNOTATIONS | OTHER
    suspicious_modification: str | None = None
    changed_form_fields: tuple[str, ...] = ()
    certification: str | None = None  # DocMDP permission of a certification signature
    visible: bool | None = None


@dataclass(frozen=True)
class VerificationReport:
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    # of the signature or time-stamp that decided the verdict (None: nothing signed)
    indication: Indication | None = None
    sub_indication: SubIndication | None = None
    notes: tuple[str, ...] = ()
    file_name: str | None = None
    file_size: int | None = None
    sha256: str | None = None
    revisions: int | None = None
    encrypted: bool = False
    signatures: tuple[SignatureReport, ...] = ()  # signature fields, empty ones included
    document_timestamps: tuple[SignatureReport, ...] = ()
    verified_at: str | None = None
    trust_anchors: tuple[str, ...] = ()
    fetching_allowed: bool = False
    elapsed_ms: float | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = _plain(self)
        return result

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
