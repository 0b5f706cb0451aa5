"""The OCSP responder (RFC 6960) for certificates of the issuing CA.

Answers are signed by the delegated responder certificate (EKU OCSPSigning,
id-pkix-ocsp-nocheck), which travels in the response. CertIDs hashed with SHA-1,
SHA-224, SHA-256, SHA-384 or SHA-512 are accepted and echoed as asked; a nonce is
echoed. Anything unreadable gets an unsigned malformedRequest, a CertID of another
issuer an unsigned unauthorized, an unreachable database an unsigned tryLater,
any other failure an unsigned internalError.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from services.common.db import Database
from services.signing.pki import names
from services.signing.pki.certificates import now
from services.signing.pki.material import PkiMaterial
from services.signing.pki.models import STATUS_REVOKED, Certificate

log = logging.getLogger(__name__)

RESPONSE_LIFETIME = timedelta(days=1)
MAX_REQUEST = 16 * 1024
CERT_ID_HASHES = ("sha1", "sha224", "sha256", "sha384", "sha512")


@dataclass(frozen=True)
class Status:
    status: ocsp.OCSPCertStatus
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None


GOOD = Status(ocsp.OCSPCertStatus.GOOD)
UNKNOWN = Status(ocsp.OCSPCertStatus.UNKNOWN)


def unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def _issuer_hashes(cert: x509.Certificate) -> dict[str, tuple[bytes, bytes]]:
    """(issuerNameHash, issuerKeyHash) per algorithm for one issuer certificate."""
    name = cert.subject.public_bytes()
    # The key hash covers the subjectPublicKey BIT STRING's value: for RSA, the
    # PKCS#1 RSAPublicKey.
    key = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    return {
        alg: (hashlib.new(alg, name).digest(), hashlib.new(alg, key).digest())
        for alg in CERT_ID_HASHES
    }


class OcspResponder:
    def __init__(
        self,
        material: PkiMaterial,
        lookup: Callable[[int], Status],
    ) -> None:
        self.material = material
        self._lookup = lookup
        self._hashes = _issuer_hashes(material.issuing_cert)

    def respond(self, request_der: bytes) -> bytes:
        """A DER OCSPResponse for a DER OCSPRequest; never raises."""
        if not request_der or len(request_der) > MAX_REQUEST:
            return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
            serial = request.serial_number
            name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
            nonce = self._nonce(request)
        except Exception as e:  # any parse failure is the client's
            log.info("malformed OCSP request: %s", e)
            return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if algorithm.name not in self._hashes:
            return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if (name_hash, key_hash) != self._hashes[algorithm.name]:
            return unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        try:
            status = self._status(serial)
            return self._signed(algorithm, name_hash, key_hash, serial, status, nonce)
        except sa.exc.OperationalError:
            log.warning("OCSP responder cannot reach the database", exc_info=True)
            return unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
        except Exception:
            log.exception("OCSP responder failed")
            return unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)

    @staticmethod
    def _nonce(request: ocsp.OCSPRequest) -> bytes | None:
        try:
            return request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            return None

    def _status(self, serial: int) -> Status:
        if serial in self.material.infrastructure_serials():
            return GOOD
        return self._lookup(serial)

    def _signed(
        self,
        algorithm: hashes.HashAlgorithm,
        name_hash: bytes,
        key_hash: bytes,
        serial: int,
        status: Status,
        nonce: bytes | None,
    ) -> bytes:
        moment = now()
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=name_hash,
                issuer_key_hash=key_hash,
                serial_number=serial,
                algorithm=algorithm,
                cert_status=status.status,
                this_update=moment,
                next_update=moment + RESPONSE_LIFETIME,
                revocation_time=status.revoked_at,
                revocation_reason=status.reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.material.ocsp_cert)
            .certificates([self.material.ocsp_cert])
        )
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(self.material.ocsp_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)


def database_lookup(db: Database, issuer_key_id: str) -> Callable[[int], Status]:
    """Status of a serial from the ``certificates`` table: good, revoked or unknown."""

    def lookup(serial: int) -> Status:
        with db.reading() as session:
            row = session.execute(
                sa.select(
                    Certificate.status, Certificate.revoked_at, Certificate.revocation_reason
                ).where(
                    Certificate.serial == names.serial_hex(serial),
                    Certificate.issuer_key_id == issuer_key_id,
                )
            ).first()
        if row is None:
            return UNKNOWN
        status, revoked_at, reason = row
        if status != STATUS_REVOKED:
            return GOOD
        flag = x509.ReasonFlags(reason) if reason else None
        if flag is x509.ReasonFlags.unspecified:
            flag = None  # RFC 5280: omit rather than say "unspecified"
        return Status(ocsp.OCSPCertStatus.REVOKED, revoked_at or now(), flag)

    return lookup
