"""The certification authorities: create them once, load them once per process.

Layout of ``settings.pki_dir`` (the directory is 0700, every file 0600)::

    root.pem  root-key.pem         self-signed root, ~20 years
    issuing.pem  issuing-key.pem   issuing CA, ~10 years, pathlen 0
    tsa.pem  tsa-key.pem           time-stamping unit, EKU timeStamping (critical)
    ocsp.pem  ocsp-key.pem         delegated OCSP responder, EKU OCSPSigning + ocsp-nocheck
    chain.pem                      issuing + root, for ``openssl -CAfile``
    keys/<serial>.p12              end-entity keys (PKCS#12, see issuing.py)

Private keys are PKCS#8 PEM encrypted with ``settings.pki_passphrase``.

The code is split by concern: :mod:`.certificates` (building certificates),
:mod:`.storage` (the directory, private files, the lock), :mod:`.material` (loading and
caching); this module creates the PKI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cryptography import x509

from services.common.errors import Conflict
from services.signing.pki import names
from services.signing.pki.certificates import (
    PublicUrls,
    _key_usage,
    _ocsp_certificate,
    _tsa_certificate,
    build_certificate,
    fingerprint,
    new_key,
    revocation_pointers,
)
from services.signing.pki.material import PkiMaterial, _cache, _cache_lock, load_pki
from services.signing.pki.storage import PkiPaths, _locked, _pem_cert, _pem_key, _private_file
from services.signing.settings import SigningSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InitResult:
    created: bool
    material: PkiMaterial


def init_pki(
    settings: SigningSettings,
    *,
    force: bool = False,
    root_key_size: int = names.ROOT_KEY_SIZE,
    ca_key_size: int = names.CA_KEY_SIZE,
) -> InitResult:
    """Create the root, the issuing CA, the TSA and the OCSP responder certificates.

    Idempotent: a complete PKI is left as it is (``created=False``); a partial one
    is refused. ``force`` replaces everything: certificates issued earlier then no
    longer chain to the new root.
    """
    paths = PkiPaths(settings.pki_dir)
    urls = PublicUrls.of(settings)
    with _locked(paths):
        present = [p for p in paths.all_files() if p.exists()]
        if present and not force:
            if len(present) == len(paths.all_files()):
                return InitResult(False, load_pki(settings))
            listed = ", ".join(p.name for p in present)
            raise Conflict(
                f"{paths.root_dir} holds part of a PKI ({listed}); "
                "pass force to replace it with a new one"
            )
        root_key = new_key(root_key_size)
        root = build_certificate(
            subject=names.pki_subject(names.ROOT_NAME),
            public_key=root_key.public_key(),
            issuer=None,
            issuer_key=root_key,
            lifetime=names.ROOT_LIFETIME,
            extensions=[
                (x509.BasicConstraints(ca=True, path_length=None), True),
                (_key_usage(ca=True), True),
            ],
        )
        issuing_key = new_key(ca_key_size)
        issuing = build_certificate(
            subject=names.pki_subject(names.ISSUING_NAME),
            public_key=issuing_key.public_key(),
            issuer=root,
            issuer_key=root_key,
            lifetime=names.ISSUING_LIFETIME,
            extensions=[
                (x509.BasicConstraints(ca=True, path_length=0), True),
                (_key_usage(ca=True), True),
                *revocation_pointers(
                    urls, crl=urls.root_crl, ocsp=False, issuer_url=urls.root_cert
                ),
            ],
        )
        tsa_key = new_key(names.TSA_KEY_SIZE)
        tsa = _tsa_certificate(tsa_key, issuing, issuing_key, urls)
        ocsp_key = new_key(names.OCSP_KEY_SIZE)
        ocsp = _ocsp_certificate(ocsp_key, issuing, issuing_key, urls)

        passphrase = settings.pki_passphrase
        material = {
            "root": (root, root_key),
            "issuing": (issuing, issuing_key),
            "tsa": (tsa, tsa_key),
            "ocsp": (ocsp, ocsp_key),
        }
        # Keys first, certificates last: load_pki sees a complete set or a partial one.
        for role, (_cert, key) in material.items():
            _private_file(paths.key(role), _pem_key(key, passphrase))
        for role, (cert, _key) in material.items():
            _private_file(paths.cert(role), _pem_cert(cert))
        _private_file(paths.chain, _pem_cert(issuing) + _pem_cert(root))
        paths.keys_dir.mkdir(mode=0o700, exist_ok=True)
        with _cache_lock:
            _cache.pop(paths.root_dir, None)
        log.info(
            "PKI created in %s: root %s, issuing CA %s",
            paths.root_dir,
            fingerprint(root),
            fingerprint(issuing),
        )
        return InitResult(True, load_pki(settings))


def pki_exists(settings: SigningSettings) -> bool:
    return all(p.exists() for p in PkiPaths(settings.pki_dir).all_files())
