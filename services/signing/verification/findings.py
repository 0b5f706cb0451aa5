"""From pyHanko's validation results to report wording.

What a trust problem means in words, whether a result counts as trusted, how a
time-stamp token is summarised, and the small formatting helpers every check uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypedDict, TypeVar, cast

from asn1crypto import cms, x509
from pyhanko.sign.ades.report import AdESIndeterminate, AdESSubIndic
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import RevocationDetails, SignatureCoverageLevel
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from services.signing.verification import structure
from services.signing.verification.certificates import _path_certs, cert_info
from services.signing.verification.model import (
    Coverage,
    FieldKind,
    SubIndication,
    TimeSource,
    TimestampInfo,
)
from services.signing.verification.state import _Judged, _Prepared

T = TypeVar("T")


class CmsResult(TypedDict, total=False):
    """What pyHanko's CMS and time-stamp token validations return (as keyword
    arguments for its status classes): the keys the checks read."""

    intact: bool
    valid: bool
    trust_problem_indic: AdESSubIndic | None
    validation_path: ValidationPath | None
    signing_cert: x509.Certificate | None
    timestamp: datetime  # the time a time-stamp token asserts
    validation_time: datetime | None
    md_algorithm: str
    pkcs7_signature_mechanism: str
    revocation_details: RevocationDetails | None
    error_time_horizon: datetime | None  # when a refused algorithm stopped being accepted


def cms_result(kw: dict[str, Any]) -> CmsResult:
    """pyHanko's untyped result, read through :class:`CmsResult`."""
    return cast(CmsResult, kw)


#: Trust problems that a proof of existence at an earlier time can resolve.
_TIME_PROBLEMS = frozenset(
    {
        AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
        AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
        AdESIndeterminate.EXPIRED,
        AdESIndeterminate.NOT_YET_VALID,
        AdESIndeterminate.REVOKED_NO_POE,
        AdESIndeterminate.REVOKED_CA_NO_POE,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
        AdESIndeterminate.NO_POE,
    }
)

_TRUST_TEXT: dict[AdESSubIndic, str] = {
    AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND: (
        "the certificate does not chain to a trusted root"
    ),
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE: (
        "a certificate of the chain was not valid (expired or not yet valid) at the "
        "validation time, and no time-stamp proves the signature is older"
    ),
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED: (
        "a certificate of the chain was expired at the validation time"
    ),
    AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE: (
        "the certificate chain violates a constraint (key usage, basic constraints, "
        "name constraints or path length)"
    ),
    AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE: "an algorithm that is not allowed was used",
    AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE: (
        "an algorithm that is no longer allowed was used, and no time-stamp proves the "
        "signature predates its deprecation"
    ),
    AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE: (
        "the certificate chain could not be validated"
    ),
    AdESIndeterminate.TRY_LATER: "revocation data is not fresh enough; try again later",
    AdESIndeterminate.REVOKED_NO_POE: "the signer's certificate has been revoked",
    AdESIndeterminate.REVOKED_CA_NO_POE: "a CA certificate of the chain has been revoked",
    AdESIndeterminate.NO_SIGNING_CERTIFICATE_FOUND: "the signer's certificate is not included",
    AdESIndeterminate.NO_POE: "no proof of existence for the required time",
}


def sub_indication(indic: AdESSubIndic | None, default: SubIndication) -> SubIndication:
    """pyHanko's sub-indication under our name (they share the ETSI names)."""
    name = getattr(indic, "name", None)
    try:
        return SubIndication(name) if isinstance(name, str) else default
    except ValueError:
        return default


def sub_indication_of(kw: CmsResult) -> SubIndication:
    """The sub-indication of an untrusted CMS or time-stamp validation result.

    A refused algorithm with a sunset date becomes CRYPTO_CONSTRAINTS_FAILURE_NO_POE:
    a proof of existence before that date would have made it pass."""
    indic = kw.get("trust_problem_indic")
    if indic == AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE and kw.get("error_time_horizon"):
        return SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
    default = (
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND
        if kw.get("validation_path") is None
        else SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
    )
    return sub_indication(indic, default)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _msg(e: BaseException) -> str:
    if structure.is_bad_offset(e):
        return structure.BAD_OFFSET
    text = str(e).strip()
    text = " ".join(text.split())[:300] if text else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def digest_supported(name: str) -> bool:
    """Whether a digest algorithm (asn1crypto's name, or a dotted OID when it has none)
    can be computed. pyHanko looks the name up as an attribute of ``cryptography``'s
    ``hashes`` module and fails with an ``AttributeError`` on anything else."""
    try:
        get_pyca_cryptography_hash(name)
    except (AttributeError, TypeError, ValueError):
        return False
    return True


def unsupported_digests(signed_data: cms.SignedData, what: str) -> list[str]:
    """Reasons for every digest algorithm of a CMS object that cannot be computed: those
    of its signers and, for a time-stamp token, that of its message imprint. ``what``
    names the object in the reason ("the signature", "the time-stamp")."""
    names: list[str] = []
    for signer_info in signed_data["signer_infos"]:
        names.append(str(signer_info["digest_algorithm"]["algorithm"].native))
    eci = signed_data["encap_content_info"]
    if eci["content_type"].native == "tst_info":
        imprint = eci["content"].parsed["message_imprint"]
        names.append(str(imprint["hash_algorithm"]["algorithm"].native))
    return [
        f"{what}'s digest algorithm {name} is not supported; it was not validated"
        for name in dict.fromkeys(names)
        if not digest_supported(name)
    ]


def _trusted(kw: CmsResult) -> bool:
    return bool(
        kw.get("intact")
        and kw.get("valid")
        and kw.get("trust_problem_indic") is None
        and kw.get("validation_path") is not None
    )


def _problem_name(indic: AdESSubIndic | None) -> str | None:
    name = getattr(indic, "name", None)
    return name if isinstance(name, str) else None


def _trust_text(kw: CmsResult) -> str:
    indic = kw.get("trust_problem_indic")
    if indic is None:
        return "no trusted certificate path was found"
    return _TRUST_TEXT.get(indic) or str(_problem_name(indic))


def _ts_info(kw: CmsResult, source: TimeSource) -> TimestampInfo:
    cert = kw.get("signing_cert")
    return TimestampInfo(
        time=_iso(kw.get("timestamp")),
        tsa=cert.subject.human_friendly if cert is not None else None,
        intact=bool(kw.get("intact")),
        valid=bool(kw.get("valid")),
        trusted=_trusted(kw),
        problem=_problem_name(kw.get("trust_problem_indic")),
        validation_time=_iso(kw.get("validation_time")),
        validation_time_source=source.value,
        chain=tuple(cert_info(c) for c in _path_certs(kw.get("validation_path"))),
    )


class ReportBase(TypedDict):
    """The fields every report of a filled field starts with."""

    field_name: str
    kind: FieldKind
    sub_filter: str | None
    visible: bool | None


def _report_base(p: _Prepared) -> ReportBase:
    return ReportBase(
        field_name=p.field.name,
        kind=p.kind,
        sub_filter=p.sub_filter,
        visible=_safe(lambda: structure.is_visible(p.field.field)),
    )


def _signature_error(j: _Judged, e: SignatureValidationError) -> None:
    indic = getattr(e, "ades_subindication", None)
    text = getattr(e, "failure_message", None) or str(e)
    if isinstance(indic, AdESIndeterminate):
        j.indeterminate(
            sub_indication(indic, SubIndication.GENERIC),
            f"the signature cannot be validated: {text}",
        )
    else:
        j.invalid(
            sub_indication(indic, SubIndication.FORMAT_FAILURE),
            f"the signature is malformed: {text}",
        )


def _coverage(level: SignatureCoverageLevel | None) -> Coverage | None:
    if level is None:
        return None
    if level == SignatureCoverageLevel.ENTIRE_FILE:
        return Coverage.ENTIRE_FILE
    if level == SignatureCoverageLevel.ENTIRE_REVISION:
        return Coverage.ENTIRE_REVISION
    return Coverage.OTHER


def _byte_range(emb: EmbeddedPdfSignature) -> tuple[int, ...] | None:
    try:
        return tuple(int(x) for x in emb.byte_range)
    except Exception:
        return None


def _safe(fn: Callable[[], T]) -> T | None:
    try:
        return fn()
    except Exception:
        return None
