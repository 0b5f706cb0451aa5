"""Object identifiers, lifetimes and subject names of the internal PKI."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from services.common.errors import ValidationFailed

# Our own arc: a UUID OID (ITU-T X.667, 2.25.<uuid as integer>) needs no registration.
ARC = "2.25.19157851689582970502681407773941270367"
TSA_POLICY_OID = ARC + ".1.1"  # the time-stamp policy named in every TSTInfo

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # RFC 9336 id-kp-documentSigning

ROOT_NAME = "Liên Thông Root CA"
ISSUING_NAME = "Liên Thông Issuing CA"
TSA_NAME = "Liên Thông Time-Stamping Authority"
OCSP_NAME = "Liên Thông OCSP Responder"
PKI_ORGANIZATION = "Hệ thống Liên Thông"

ROOT_LIFETIME = timedelta(days=7305)  # 20 years
ISSUING_LIFETIME = timedelta(days=3653)  # 10 years
TSA_LIFETIME = timedelta(days=3653)
OCSP_LIFETIME = timedelta(days=365)  # no revocation check (ocsp-nocheck): keep it short
OCSP_RENEW_BEFORE = timedelta(days=30)
END_ENTITY_DAYS = 730
BACKDATE = timedelta(minutes=5)  # tolerate clock skew between us and relying parties

ROOT_KEY_SIZE = 4096
CA_KEY_SIZE = 3072
TSA_KEY_SIZE = 3072
OCSP_KEY_SIZE = 2048
END_ENTITY_KEY_SIZE = 2048

KINDS = ("organization", "personal")
MAX_ATTRIBUTE = 64  # RFC 5280 upper bounds of CN, O and title


def clean_text(value: str | None, what: str, *, required: bool = True) -> str | None:
    """NFC-normalized, single-spaced text within the X.520 upper bound."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", value or "")).strip()
    if not text:
        if required:
            raise ValidationFailed(f"the {what} is blank")
        return None
    if len(text) > MAX_ATTRIBUTE:
        raise ValidationFailed(
            f"the {what} has {len(text)} characters; a certificate allows at most {MAX_ATTRIBUTE}"
        )
    return text


def clean_agency_code(code: str) -> str:
    text = (code or "").strip()
    if not text or len(text) > MAX_ATTRIBUTE or not re.fullmatch(r"[0-9A-Za-z.\-_]+", text):
        raise ValidationFailed(f"{code!r} is not an agency code (letters, digits, '.', '-', '_')")
    return text


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationFailed(f"the certificate kind must be one of {', '.join(KINDS)}")
    return kind


def pki_subject(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, PKI_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def holder_subject(
    *,
    common_name: str,
    agency_code: str,
    organization: str | None,
    title: str | None = None,
) -> x509.Name:
    """C=VN, O=<agency name>, organizationIdentifier=<agency code>, [title], CN=<holder>.

    Text attributes are UTF8String (cryptography's default), so Vietnamese names
    survive as written. The agency code (mã định danh, QĐ 20/2020/QĐ-TTg) goes in
    organizationIdentifier (2.5.4.97), the X.520 attribute for an organization's
    registered identifier, verbatim (no ETSI "NTR"/"VAT" prefix: none fits).
    """
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, agency_code))
    if title:
        attributes.append(x509.NameAttribute(NameOID.TITLE, title))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def subject_text(name: x509.Name) -> str:
    """RFC 4514, with organizationIdentifier spelled out instead of 2.5.4.97."""
    return name.rfc4514_string({NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier"})


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def normalize_serial(text: str) -> str:
    """Accepts 0x-prefixed, colon-separated or upper-case hex; answers bare lower-case hex."""
    cleaned = re.sub(r"[\s:]", "", (text or "").strip().lower())
    cleaned = cleaned.removeprefix("0x")
    if not cleaned or not re.fullmatch(r"[0-9a-f]+", cleaned) or len(cleaned) > 40:
        raise ValidationFailed(f"{text!r} is not a certificate serial number in hex")
    return cleaned.lstrip("0") or "0"
