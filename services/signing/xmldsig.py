"""XML-DSig for edXML packages (signxml): signing with an agency's organization key,
and verifying a package's enveloped signature against the trust anchors.

A package's signature must cover the whole package (one Reference, ``URI=""``, the
enveloped transform): a signature over a part would let the rest change unseen.
The verdict: ``valid`` (intact, the certificate chains to a trust anchor), ``invalid``
(the digest or signature value does not match, or it covers only a part),
``indeterminate`` (intact but the certificate is not trusted, or it cannot be told),
``unsigned`` (no signature).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field, replace
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from lxml import etree
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from signxml import InvalidInput, InvalidSignature, XMLSigner, XMLVerifier, methods
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException

from services.common.contract import Verdict
from services.common.errors import ValidationFailed

DSIG = "http://www.w3.org/2000/09/xmldsig#"
NS = {"ds": DSIG}
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


def _parser() -> Any:
    """Every door shut (no entities, no DTD, no network); ``huge_tree`` because a
    package's attachment is one long text node (libxml2 refuses those over 10 MB
    otherwise). The size is bounded by the request body limit."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


class _Signer(XMLSigner):
    """signxml's signer parsing with :func:`_parser` (its own refuses large text nodes)."""

    @property
    def parser(self) -> Any:
        return _parser()


def _parse(data: bytes) -> Any:
    """The package, parsed with every door shut; a DTD is refused outright."""
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as e:
        raise ValidationFailed(f"the package is not well-formed XML ({e.msg})") from e
    if root.getroottree().docinfo.doctype:
        raise ValidationFailed("a DTD is not accepted in a package")
    return root


class _SignerKey:
    """What signxml asks of an RSA key (``sign(data, padding, algorithm)``), answered by
    a pyHanko signer: a PKCS#12 key or a PKCS#11 token alike."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def sign(self, data: bytes, padding: object = None, algorithm: object = None) -> bytes:
        return asyncio.run(self.signer.async_sign_raw(data, "sha256"))


def sign_package(data: bytes, signer: Signer, chain: list[bytes]) -> bytes:
    """The package with an enveloped RSA-SHA256 signature over all of it, placed where
    the package left ``<ds:Signature Id="placeholder"/>`` (else at the root's end);
    ``chain``: the certificates to put in KeyInfo, DER, the signer's first."""
    root = _parse(data)
    certs = [
        x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()
        for der in chain
    ]
    xml_signer = _Signer(
        method=methods.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
    )
    signed = xml_signer.sign(root, key=_SignerKey(signer), cert=certs)  # type: ignore[arg-type]
    result: bytes = etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
    return result


@dataclass(frozen=True)
class PackageSignature:
    verdict: Verdict
    signer: str | None = None  # the certificate's subject
    organization: str | None = None
    serial: str | None = None
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "signer": self.signer,
            "organization": self.organization,
            "serial": self.serial,
            "reasons": list(self.reasons),
        }


def _certificates(signature: Any) -> list[x509.Certificate]:
    found = []
    for node in signature.iterfind(".//ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS):
        try:
            der = base64.b64decode("".join((node.text or "").split()), validate=True)
            found.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    return found


def _covers_everything(signature: Any) -> bool:
    references = signature.findall("ds:SignedInfo/ds:Reference", NS)
    if len(references) != 1 or references[0].get("URI") not in ("",):
        return False
    transforms = references[0].findall("ds:Transforms/ds:Transform", NS)
    return any(t.get("Algorithm") == ENVELOPED for t in transforms)


def _weak_algorithms(signature: Any) -> list[str]:
    """SHA-1 (or MD5) in SignatureMethod or DigestMethod: nothing proven wrong, but
    nothing a verdict of valid can rest on either (indeterminate)."""
    found = []
    for node in signature.iterfind(".//ds:SignatureMethod", NS):
        found.append(node.get("Algorithm") or "")
    for node in signature.iterfind(".//ds:DigestMethod", NS):
        found.append(node.get("Algorithm") or "")
    return sorted({a for a in found if "sha1" in a.lower() or "md5" in a.lower()})


def _trusted(
    leaf: x509.Certificate, others: list[x509.Certificate], roots: list[Any]
) -> str | None:
    """Why the certificate is not trusted (None when it chains to an anchor)."""

    def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    context = ValidationContext(
        trust_roots=[asn1(r) if isinstance(r, x509.Certificate) else r for r in roots],
        other_certs=[asn1(c) for c in others],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    validator = CertificateValidator(asn1(leaf), validation_context=context)
    try:
        asyncio.run(validator.async_validate_usage(set()))
    except Exception as e:  # every failure of the path is "not trusted", with its reason
        return f"the signer's certificate is not trusted: {e}"
    return None


def verify_package(data: bytes, trust_roots: list[Any]) -> PackageSignature:
    root = _parse(data)
    signatures = root.findall(f".//{{{DSIG}}}Signature")
    if not signatures:
        return PackageSignature(Verdict.UNSIGNED, reasons=["the package carries no signature"])
    if len(signatures) > 1:
        return PackageSignature(Verdict.INDETERMINATE, reasons=["more than one signature"])
    signature = signatures[0]
    certificates = _certificates(signature)
    if not certificates:
        return PackageSignature(
            Verdict.INDETERMINATE, reasons=["the signature carries no X.509 certificate"]
        )
    leaf = certificates[0]
    names = leaf.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    signed = PackageSignature(
        Verdict.INDETERMINATE,
        signer=leaf.subject.rfc4514_string(),
        organization=str(names[0].value) if names else None,
        serial=format(leaf.serial_number, "x"),
    )
    if not _covers_everything(signature):
        return replace(
            signed,
            verdict=Verdict.INVALID,
            reasons=['the signature does not cover the whole package (Reference URI="")'],
        )
    weak = _weak_algorithms(signature)
    if weak:
        return replace(
            signed, reasons=[f"the signature uses {', '.join(weak)}, which is not accepted"]
        )
    pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
    del root, signatures, signature  # signxml parses the bytes again: one tree at a time
    try:
        XMLVerifier().verify(data, x509_cert=pem, ignore_ambiguous_key_info=True, parser=_parser())
    except (InvalidSignature, InvalidInput, SignXMLException) as e:
        return replace(
            signed, verdict=Verdict.INVALID, reasons=[f"the signature does not match: {e}"]
        )
    reason = _trusted(leaf, certificates[1:], trust_roots)
    if reason is not None:
        return replace(signed, reasons=[reason])
    fingerprint = leaf.fingerprint(hashes.SHA256()).hex()
    return replace(signed, verdict=Verdict.VALID, reasons=[f"certificate sha256 {fingerprint}"])
