"""From a certificate record to a pyHanko ``Signer``, built once per process and reused.

* ``pkcs12:<path>``: the PKCS#12 is decrypted once; the signer keeps the parsed
  key (pyHanko's ``SimpleSigner`` would re-parse and re-check the RSA key on every
  signature) and the chain (issuing CA, root).
* ``pkcs11:<token>/<label>``: pyHanko's ``PKCS11Signer`` on the token's shared,
  logged-in session (see ``services.signing.pki.pkcs11``); the key never leaves the
  token. The PIN comes from ``settings.pkcs11.pin`` and is never logged.

Both also spare pyHanko work it repeats on every signature (``_QuickCms``): the
signing-certificate-v2 attribute is computed once per signer, and the signed
attributes and SignerInfo are handed back encoded once. asn1crypto re-encodes a
value built from Python objects every time it is dumped, and pyHanko dumps these
many times per signature; that alone took three quarters of a B-B signature.

Typical use::

    record = current_certificate(db, "000.00.00.H41", "organization")
    signer = keyring(settings).signer_for(record)
    signers.sign_pdf(writer, PdfSignatureMetadata(field_name="Sig1"), signer=signer)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
from pyhanko.sign import attributes
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.signers.pdf_cms import Signer, SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from services.signing.pki import pkcs11 as tokens
from services.signing.pki.errors import CertificateUnusable
from services.signing.pki.material import PkiMaterial, load_pki, parsed_certificate
from services.signing.pki.models import Certificate
from services.signing.pki.records import CertificateRecord
from services.signing.settings import SigningSettings

log = logging.getLogger(__name__)

__all__ = [
    "CachedKeySigner",
    "KeyRing",
    "TokenSigner",
    "keyring",
    "signer_for",
]


class _Constant(attributes.CMSAttributeProvider):
    """An attribute whose value does not change between signatures."""

    def __init__(self, attribute_type: str, value: Any) -> None:
        self.attribute_type = attribute_type
        self._value = value

    async def build_attr_value(self, dry_run: bool = False) -> Any:
        return self._value


class _QuickCms(Signer):
    """Per-signature CMS work done once per signer (see the module docstring).

    Leans on pyHanko's ``_signed_attr_providers`` (internal API, pyHanko 0.38): a
    pyHanko upgrade must keep tests/unit/signing/pki/test_issue.py green.
    """

    _signing_certificate: tsp.SigningCertificateV2 | None = None

    def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if type(provider) is attributes.SigningCertificateV2Provider:
                if self._signing_certificate is None:
                    value = as_signing_certificate_v2(provider.signing_cert)
                    self._signing_certificate = tsp.SigningCertificateV2.load(value.dump())
                yield _Constant(provider.attribute_type, self._signing_certificate)
            else:
                yield provider

    async def signed_attrs(self, *args: Any, **kwargs: Any) -> cms.CMSAttributes:
        attrs = await super().signed_attrs(*args, **kwargs)
        return cms.CMSAttributes.load(attrs.dump())

    def signer_info(self, *args: Any, **kwargs: Any) -> cms.SignerInfo:
        return cms.SignerInfo.load(super().signer_info(*args, **kwargs).dump())


class CachedKeySigner(_QuickCms, SimpleSigner):
    """A SimpleSigner that signs with an already parsed RSA key."""

    def __init__(
        self,
        *,
        key: rsa.RSAPrivateKey,
        signing_cert: asn1_x509.Certificate,
        cert_registry: SimpleCertificateStore,
    ) -> None:
        super().__init__(
            signing_cert=signing_cert,
            signing_key=translate_pyca_cryptography_key_to_asn1(key),
            cert_registry=cert_registry,
        )
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            algorithm = mechanism.signature_algo
        except ValueError:
            algorithm = mechanism["algorithm"].native
        if algorithm == "rsassa_pkcs1v15":
            return self._key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algorithm == "rsassa_pss":
            padding, hash_algorithm = process_pss_params(mechanism["parameters"])
            return self._key.sign(data, padding, hash_algorithm)
        return super().sign_raw(data, digest_algorithm)


class TokenSigner(_QuickCms, PKCS11Signer):
    """PKCS11Signer that reopens the token's session once if it went stale."""

    def __init__(self, *, settings: SigningSettings, token_label: str, **kwargs: Any) -> None:
        self._settings = settings
        self._token_label = token_label
        session = tokens.TOKENS.session(settings.pkcs11, token_label)
        super().__init__(session, **kwargs)
        self._load_objects()  # find the key now, not inside some event loop later

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        try:
            return await super().async_sign_raw(data, digest_algorithm, dry_run=dry_run)
        except tokens.STALE_SESSION_ERRORS as e:
            log.warning("PKCS#11 session on %r went stale (%s); reopening", self._token_label, e)
            self.pkcs11_session = tokens.TOKENS.reopen(
                self._settings.pkcs11, self._token_label, stale=self.pkcs11_session
            )
            self._loaded = False
            self._key_handle = None
            self._load_objects()
            return await super().async_sign_raw(data, digest_algorithm, dry_run=dry_run)


def _registry(material: PkiMaterial) -> SimpleCertificateStore:
    registry = SimpleCertificateStore()
    registry.register_multiple([material.issuing_asn1, material.root_asn1])
    return registry


class KeyRing:
    """The signers of one PKI directory, built on first use and kept."""

    def __init__(self, settings: SigningSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._signers: dict[tuple[str, str], Signer] = {}

    def signer_for(self, certificate: CertificateRecord | Certificate) -> Signer:
        """The signer for a certificate record; refuses a revoked, expired or foreign one.

        The record's status is what counts: load it fresh (``current_certificate``)
        right before signing.
        """
        record = (
            CertificateRecord.of(certificate)
            if isinstance(certificate, Certificate)
            else certificate
        )
        reason = record.unusable_reason()
        if reason is not None:
            raise CertificateUnusable(reason)
        cache_key = (record.serial, record.fingerprint)
        signer = self._signers.get(cache_key)
        if signer is not None:
            return signer
        with self._lock:
            signer = self._signers.get(cache_key)
            if signer is None:
                signer = self._build(record)
                self._signers[cache_key] = signer
            return signer

    def _build(self, record: CertificateRecord) -> Signer:
        material = load_pki(self.settings)
        if record.issuer_key_id != material.issuer_key_id:
            raise CertificateUnusable(
                f"certificate {record.serial} was issued by a CA this PKI no longer uses"
            )
        signing_cert = parsed_certificate(record.der)
        if record.key_ref.startswith("pkcs12:"):
            path = material.paths.root_dir / record.key_ref.removeprefix("pkcs12:")
            return self._from_pkcs12(record, path, material, signing_cert)
        if record.key_ref.startswith("pkcs11:"):
            token_label, key_label = tokens.parse_key_ref(record.key_ref)
            return TokenSigner(
                settings=self.settings,
                token_label=token_label,
                key_label=key_label,
                signing_cert=signing_cert,
                ca_chain=[material.issuing_asn1, material.root_asn1],
                other_certs_to_pull=(),
            )
        raise CertificateUnusable(
            f"certificate {record.serial} has no usable key ({record.key_ref})"
        )

    def _from_pkcs12(
        self,
        record: CertificateRecord,
        path: Path,
        material: PkiMaterial,
        signing_cert: asn1_x509.Certificate,
    ) -> Signer:
        try:
            key, cert, _others = pkcs12.load_key_and_certificates(
                path.read_bytes(), self.settings.pki_passphrase
            )
        except FileNotFoundError as e:
            raise CertificateUnusable(
                f"the key of certificate {record.serial} is missing ({path})"
            ) from e
        except ValueError as e:
            raise CertificateUnusable(
                f"the key of certificate {record.serial} cannot be decrypted ({path}): "
                "wrong LIENTHONG_PKI_PASSPHRASE?"
            ) from e
        if not isinstance(key, rsa.RSAPrivateKey) or cert is None:
            raise CertificateUnusable(f"{path} does not hold an RSA key and its certificate")
        if (
            key.public_key() != cert.public_key()
            or cert.fingerprint(hashes.SHA256()).hex() != record.fingerprint
        ):
            raise CertificateUnusable(f"{path} does not belong to certificate {record.serial}")
        return CachedKeySigner(
            key=key, signing_cert=signing_cert, cert_registry=_registry(material)
        )

    def forget(self, serial: str) -> None:
        with self._lock:
            for key in [k for k in self._signers if k[0] == serial]:
                del self._signers[key]

    def clear(self) -> None:
        with self._lock:
            self._signers.clear()


_rings_lock = threading.Lock()
_rings: dict[Path, KeyRing] = {}


def keyring(settings: SigningSettings) -> KeyRing:
    """The process's KeyRing for this PKI directory."""
    with _rings_lock:
        ring = _rings.get(settings.pki_dir)
        if ring is None:
            ring = _rings[settings.pki_dir] = KeyRing(settings)
        return ring


def signer_for(certificate: CertificateRecord | Certificate, settings: SigningSettings) -> Signer:
    return keyring(settings).signer_for(certificate)
