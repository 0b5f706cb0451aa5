"""Certificates as the report shows them: summaries, validated paths, guessed chains."""

from __future__ import annotations

from collections.abc import Iterable

from asn1crypto import x509
from pyhanko_certvalidator.path import ValidationPath

from services.signing.verification.model import CertificateInfo


def cert_info(cert: x509.Certificate) -> CertificateInfo:
    validity = cert["tbs_certificate"]["validity"]
    try:
        names = cert.subject.native
    except Exception:  # an unparsable name still gets a report
        names = {}
    common_name = names.get("common_name")
    organization = names.get("organization_name")
    return CertificateInfo(
        subject=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"),
        not_before=validity["not_before"].native.isoformat(),
        not_after=validity["not_after"].native.isoformat(),
        sha256=cert.sha256.hex(),
        is_ca=bool(cert.ca),
        common_name=str(common_name) if isinstance(common_name, str) else None,
        organization=str(organization) if isinstance(organization, str) else None,
    )


def _path_certs(path: ValidationPath | None) -> list[x509.Certificate]:
    """Leaf first, trust anchor last."""
    if path is None:
        return []
    try:
        return list(reversed(list(path.iter_certs(include_root=True))))
    except Exception:
        return []


def _guess_chain(
    leaf: x509.Certificate, pool: Iterable[x509.Certificate]
) -> list[x509.Certificate]:
    """Best-effort chain by names, for the report when no trusted path was found."""
    by_subject: dict[bytes, x509.Certificate] = {}
    for c in pool:
        by_subject.setdefault(c.subject.dump(), c)
    chain = [leaf]
    current = leaf
    for _ in range(10):
        if current.self_signed != "no":
            break
        parent = by_subject.get(current.issuer.dump())
        if parent is None or parent in chain:
            break
        chain.append(parent)
        current = parent
    return chain


def no_path_reason(
    guessed: list[x509.Certificate],
    anchors: tuple[x509.Certificate, ...],
    problem: str | None,
) -> str:
    """Why no certification path to a trust anchor was built, in words.

    ``guessed``: the chain found by names (signer first); ``problem``: the validator's
    own words when it found a path but rejected it (a constraint, a validity period)."""
    n = len(anchors)
    among = f"among the {n} trust anchor{'s' if n != 1 else ''}"
    if not guessed:
        return "no chain was built: the signer's certificate is not in the signature"
    top = guessed[-1]
    anchor_digests = {a.sha256 for a in anchors}
    anchor_subjects = {a.subject.dump() for a in anchors}
    reaches_anchor = top.sha256 in anchor_digests or (
        top.self_signed == "no" and top.issuer.dump() in anchor_subjects
    )
    if reaches_anchor and problem:
        return f"no valid chain to a trusted root: {problem}"
    if top.self_signed != "no":
        return (
            f"no chain to a trusted root: the chain ends at the self-signed "
            f"{top.subject.human_friendly}, which is not {among}"
        )
    return (
        f"no chain to a trusted root: issuer {top.issuer.human_friendly} is not {among}, "
        "and no certificate of the file or the verifier issues it"
    )
