"""Revocation data: collecting what the document carries and reporting a status per
certificate.

pyhanko-certvalidator is the authority that decides whether a path is revoked (it
checks signatures and freshness of CRLs and OCSP responses). This module gathers the
inputs for it (the DSS, Adobe's revocation-info-archival attribute in the CMS) and,
after validation, describes for each certificate of a chain which data speaks about
it, so that the report can say "good per OCSP embedded in the DSS" or "revoked on …".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import cms, crl, ocsp, x509
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader

from services.signing.verification.model import RevocationInfo


@dataclass
class RevinfoPool:
    """CRLs and OCSP responses with where each came from."""

    crls: list[tuple[crl.CertificateList, str]] = field(default_factory=list)
    ocsps: list[tuple[ocsp.OCSPResponse, str]] = field(default_factory=list)
    certs: list[x509.Certificate] = field(default_factory=list)
    has_dss: bool = False
    _seen: set[bytes] = field(default_factory=set)

    def add_crl(self, item: crl.CertificateList, source: str) -> None:
        key = hashlib.sha256(item.dump()).digest()
        if key not in self._seen:
            self._seen.add(key)
            self.crls.append((item, source))

    def add_ocsp(self, item: ocsp.OCSPResponse, source: str) -> None:
        key = hashlib.sha256(item.dump()).digest()
        if key not in self._seen:
            self._seen.add(key)
            self.ocsps.append((item, source))

    def absorb_fetched(self, crls: list[crl.CertificateList], ocsps: list[Any]) -> None:
        for c in crls:
            self.add_crl(c, "fetched")
        for o in ocsps:
            self.add_ocsp(o, "fetched")


def read_dss(reader: PdfFileReader, pool: RevinfoPool, notes: list[str]) -> None:
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        root = reader.root
        if "/DSS" not in root:
            return
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception as e:
        notes.append(f"the Document Security Store could not be read ({type(e).__name__})")
        return
    pool.has_dss = True
    for ref in dss.crls:
        try:
            pool.add_crl(
                crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL)), "dss"
            )
        except Exception:
            notes.append("a CRL in the Document Security Store is unreadable")
    for ref in dss.ocsps:
        try:
            pool.add_ocsp(
                ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE)),
                "dss",
            )
        except Exception:
            notes.append("an OCSP response in the Document Security Store is unreadable")
    try:
        pool.certs.extend(dss.load_certs())
    except Exception:
        notes.append("a certificate in the Document Security Store is unreadable")


def read_cms_archival(signer_info: cms.SignerInfo, pool: RevinfoPool) -> None:
    """Adobe's revocation-info-archival signed attribute (PAdES-style B-LT inside CMS)."""
    attrs = signer_info["signed_attrs"]
    if not attrs:
        return
    for attr in attrs:
        if attr["type"].native != "adobe_revocation_info_archival":
            continue
        for value in attr["values"]:
            for item in value["crl"] or ():
                pool.add_crl(item, "cms")
            for item in value["ocsp"] or ():
                pool.add_ocsp(item, "cms")


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _crl_status(cert: x509.Certificate, item: crl.CertificateList) -> tuple[str, Any, Any] | None:
    tbs = item["tbs_cert_list"]
    if tbs["issuer"] != cert.issuer:
        return None
    serial = cert.serial_number
    for entry in tbs["revoked_certificates"] or ():
        if entry["user_certificate"].native == serial:
            reason = None
            for ext in entry["crl_entry_extensions"] or ():
                if ext["extn_id"].native == "crl_reason":
                    reason = ext["extn_value"].native
            return "revoked", entry["revocation_date"].native, reason
    return "good", tbs["this_update"].native, None


def _ocsp_status(
    cert: x509.Certificate, item: ocsp.OCSPResponse
) -> tuple[str, datetime | None, Any, Any] | None:
    try:
        if item["response_status"].native != "successful":
            return None
        basic = item["response_bytes"]["response"].parsed
        data = basic["tbs_response_data"]
    except Exception:
        return None
    for single in data["responses"]:
        cert_id = single["cert_id"]
        if cert_id["serial_number"].native != cert.serial_number:
            continue
        algo = cert_id["hash_algorithm"]["algorithm"].native
        try:
            name_hash = hashlib.new(algo, cert.issuer.dump()).digest()
        except (ValueError, TypeError):
            continue
        if name_hash != cert_id["issuer_name_hash"].native:
            continue
        status = single["cert_status"]
        produced = data["produced_at"].native
        if status.name == "revoked":
            info = status.chosen
            return (
                "revoked",
                produced,
                info["revocation_time"].native,
                (info["revocation_reason"].native if info["revocation_reason"] else None),
            )
        return status.name, produced, None, None
    return None


def status_for(cert: x509.Certificate, pool: RevinfoPool) -> RevocationInfo:
    """What the pooled data says about ``cert``: a revocation wins, then the newest."""
    subject = cert.subject.human_friendly
    serial = format(cert.serial_number, "x")
    best: RevocationInfo | None = None
    best_time: datetime | None = None
    for c, source in pool.crls:
        try:
            found = _crl_status(cert, c)
        except Exception:
            continue
        if found is None:
            continue
        status, when, reason = found
        info = RevocationInfo(
            subject=subject,
            serial=serial,
            status=status,
            kind="crl",
            source=source,
            issued_at=_iso(c["tbs_cert_list"]["this_update"].native),
            revoked_at=_iso(when) if status == "revoked" else None,
            reason=reason,
        )
        if status == "revoked":
            return info
        issued = c["tbs_cert_list"]["this_update"].native
        if best is None or (best_time is not None and issued > best_time):
            best, best_time = info, issued
    for o, source in pool.ocsps:
        found_o = _ocsp_status(cert, o)
        if found_o is None:
            continue
        status, produced, revoked_at, reason = found_o
        info = RevocationInfo(
            subject=subject,
            serial=serial,
            status=status,
            kind="ocsp",
            source=source,
            issued_at=_iso(produced),
            revoked_at=_iso(revoked_at),
            reason=reason,
        )
        if status == "revoked":
            return info
        if best is None or (produced is not None and (best_time is None or produced > best_time)):
            best, best_time = info, produced
    return best or RevocationInfo(subject=subject, serial=serial, status="unknown")


def revoked_at(cert: x509.Certificate, pool: RevinfoPool) -> datetime | None:
    info = status_for(cert, pool)
    if info.status == "revoked" and info.revoked_at:
        return datetime.fromisoformat(info.revoked_at)
    return None


def has_revinfo(cert: x509.Certificate, pool: RevinfoPool, sources: set[str]) -> bool:
    """Whether embedded data (``sources``) speaks about ``cert`` (for the B-LT check)."""
    for c, source in pool.crls:
        if source in sources and _crl_status(cert, c) is not None:
            return True
    return any(source in sources and _ocsp_status(cert, o) is not None for o, source in pool.ocsps)
