"""The loaded CA material: parsed and decrypted once per process, reloaded when the
files change, the OCSP responder certificate renewed when it nears expiry."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.common.errors import SettingsError
from services.signing.pki import names
from services.signing.pki.certificates import (
    PkiKey,
    PublicUrls,
    _ocsp_certificate,
    key_id,
    new_key,
    now,
)
from services.signing.pki.errors import PkiNotInitialized
from services.signing.pki.storage import (
    ROLES,
    PkiPaths,
    _locked,
    _pem_cert,
    _pem_key,
    _private_file,
)
from services.signing.settings import SigningSettings

log = logging.getLogger(__name__)


class PkiMaterial:
    """The loaded CA certificates and keys, with the encodings the responders reuse."""

    def __init__(
        self,
        paths: PkiPaths,
        certs: dict[str, x509.Certificate],
        keys: dict[str, PkiKey],
    ) -> None:
        self.paths = paths
        self.root_cert = certs["root"]
        self.issuing_cert = certs["issuing"]
        self.tsa_cert = certs["tsa"]
        self.ocsp_cert = certs["ocsp"]
        self.root_key = keys["root"]
        self.issuing_key = keys["issuing"]
        self.tsa_key = keys["tsa"]
        self.ocsp_key = keys["ocsp"]
        self.root_der = self.root_cert.public_bytes(serialization.Encoding.DER)
        self.issuing_der = self.issuing_cert.public_bytes(serialization.Encoding.DER)
        self.tsa_der = self.tsa_cert.public_bytes(serialization.Encoding.DER)
        self.root_asn1 = parsed_certificate(self.root_der)
        self.issuing_asn1 = parsed_certificate(self.issuing_der)
        self.tsa_asn1 = parsed_certificate(self.tsa_der)
        self.issuer_key_id = key_id(self.issuing_cert)

    @property
    def chain(self) -> list[x509.Certificate]:
        """Issuing CA then root: what a signer embeds above its own certificate."""
        return [self.issuing_cert, self.root_cert]

    def infrastructure_serials(self) -> set[int]:
        """Certificates the issuing CA issued to our own services (always good)."""
        return {self.tsa_cert.serial_number, self.ocsp_cert.serial_number}


def parsed_certificate(der: bytes) -> asn1_x509.Certificate:
    """A certificate parsed to the last field now. asn1crypto parses lazily and is not
    thread-safe doing it: two signing threads touching a shared certificate's
    extensions for the first time at once can fail with a KeyError."""
    cert = asn1_x509.Certificate.load(der)
    _ = cert.native
    return cert


_cache_lock = threading.RLock()
_cache: dict[Path, tuple[tuple[int, ...], PkiMaterial]] = {}


def _stamp(paths: PkiPaths) -> tuple[int, ...]:
    try:
        return tuple(paths.cert(role).stat().st_mtime_ns for role in ROLES)
    except FileNotFoundError as e:
        raise PkiNotInitialized(
            f"the PKI under {paths.root_dir} is not initialized "
            f"(missing {Path(str(e.filename)).name}); run `lienthong pki init`"
        ) from e


def load_pki(settings: SigningSettings) -> PkiMaterial:
    """The CA material, parsed and decrypted once per process (reloaded if the files change).

    Renews the OCSP responder certificate when it is within 30 days of expiry.
    """
    paths = PkiPaths(settings.pki_dir)
    with _cache_lock:
        stamp = _stamp(paths)
        cached = _cache.get(paths.root_dir)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            material = _read(paths, settings.pki_passphrase)
        except _Mismatch:
            with _locked(paths):  # caught a renewal half-way: wait for it, read again
                material = _read(paths, settings.pki_passphrase)
            stamp = _stamp(paths)
        if material.ocsp_cert.not_valid_after_utc - now() < names.OCSP_RENEW_BEFORE:
            material = _renew_responder(settings, paths, material)
            stamp = _stamp(paths)
        _cache[paths.root_dir] = (stamp, material)
        return material


class _Mismatch(SettingsError):
    pass


def _read(paths: PkiPaths, passphrase: bytes) -> PkiMaterial:
    certs: dict[str, x509.Certificate] = {}
    keys: dict[str, PkiKey] = {}
    for role in ROLES:
        try:
            certs[role] = x509.load_pem_x509_certificate(paths.cert(role).read_bytes())
            key = serialization.load_pem_private_key(
                paths.key(role).read_bytes(), password=passphrase
            )
        except FileNotFoundError as e:
            raise PkiNotInitialized(
                f"the PKI under {paths.root_dir} is incomplete ({e.filename} is missing); "
                "run `lienthong pki init --force`"
            ) from e
        except (ValueError, TypeError) as e:
            raise SettingsError(
                f"cannot read the {role} key in {paths.root_dir}: wrong LIENTHONG_PKI_PASSPHRASE "
                f"or a damaged file ({e})"
            ) from e
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SettingsError(f"the {role} key in {paths.root_dir} is not an RSA key")
        if key.public_key() != certs[role].public_key():
            raise _Mismatch(f"{paths.key(role)} does not match {paths.cert(role)}")
        keys[role] = key
    return PkiMaterial(paths, certs, keys)


def _renew_responder(
    settings: SigningSettings, paths: PkiPaths, material: PkiMaterial
) -> PkiMaterial:
    with _locked(paths):
        current = x509.load_pem_x509_certificate(paths.cert("ocsp").read_bytes())
        if current.not_valid_after_utc - now() >= names.OCSP_RENEW_BEFORE:
            return _read(paths, settings.pki_passphrase)  # another process renewed it
        key = new_key(names.OCSP_KEY_SIZE)
        cert = _ocsp_certificate(
            key, material.issuing_cert, material.issuing_key, PublicUrls.of(settings)
        )
        _private_file(paths.key("ocsp"), _pem_key(key, settings.pki_passphrase))
        _private_file(paths.cert("ocsp"), _pem_cert(cert))
        log.info("renewed the OCSP responder certificate, valid until %s", cert.not_valid_after_utc)
        return _read(paths, settings.pki_passphrase)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
