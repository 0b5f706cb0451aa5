"""Making the PKI's certificates: keys, validity, and the extensions that say what a
certificate may do and where relying parties check its revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from services.signing.pki import names
from services.signing.settings import SigningSettings

PkiKey = rsa.RSAPrivateKey


@dataclass(frozen=True)
class PublicUrls:
    """Where relying parties find our CRL, OCSP responder and CA certificates."""

    base: str

    @property
    def crl(self) -> str:
        return f"{self.base}/pki/crl"

    @property
    def root_crl(self) -> str:
        return f"{self.base}/pki/root.crl"

    @property
    def ocsp(self) -> str:
        return f"{self.base}/pki/ocsp"

    @property
    def issuing_cert(self) -> str:
        return f"{self.base}/pki/issuing.crt"

    @property
    def root_cert(self) -> str:
        return f"{self.base}/pki/root.crt"

    @property
    def tsa(self) -> str:
        return f"{self.base}/pki/tsa"

    @classmethod
    def of(cls, settings: SigningSettings) -> PublicUrls:
        return cls(settings.public_url.rstrip("/"))


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def key_id(cert: x509.Certificate) -> str:
    """Hex subject key identifier: the extension if present, else RFC 5280 method 1."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest.hex()


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def new_key(size: int) -> PkiKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


# --- certificate building -------------------------------------------------------------


def build_certificate(
    *,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate | None,
    issuer_key: PkiKey,
    lifetime: timedelta,
    extensions: list[tuple[x509.ExtensionType, bool]],
    serial: int | None = None,
    start: datetime | None = None,
) -> x509.Certificate:
    """Sign a certificate; ``issuer=None`` makes it self-signed.

    The validity starts a few minutes back (clock skew) and never outlives the issuer.
    """
    start = (start or now()) - names.BACKDATE
    end = start + names.BACKDATE + lifetime
    if issuer is not None:
        end = min(end, issuer.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _key_usage(*, sign: bool = False, commit: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=commit,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def revocation_pointers(
    urls: PublicUrls, *, crl: str | None = None, ocsp: bool = True, issuer_url: str | None = None
) -> list[tuple[x509.ExtensionType, bool]]:
    """CRL distribution point and AIA (OCSP + caIssuers) of a certificate we issue."""
    access = []
    if ocsp:
        access.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)
            )
        )
    access.append(
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(issuer_url or urls.issuing_cert),
        )
    )
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.AuthorityInformationAccess(access), False)
    ]
    if crl is not None:
        extensions.append(
            (
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(crl)],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                False,
            )
        )
    return extensions


def end_entity_extensions(urls: PublicUrls) -> list[tuple[x509.ExtensionType, bool]]:
    """keyUsage digitalSignature + nonRepudiation (critical); EKU documentSigning.

    emailProtection sits beside documentSigning because NSS (poppler's pdfsig) and
    Acrobat judge document signatures with the S/MIME usage and refuse certificates
    whose EKU lacks it.
    """
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_key_usage(sign=True, commit=True), True),
        (
            x509.ExtendedKeyUsage([names.DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            False,
        ),
        *revocation_pointers(urls, crl=urls.crl),
    ]


def _tsa_certificate(
    key: PkiKey, issuing: x509.Certificate, issuing_key: PkiKey, urls: PublicUrls
) -> x509.Certificate:
    return build_certificate(
        subject=names.pki_subject(names.TSA_NAME),
        public_key=key.public_key(),
        issuer=issuing,
        issuer_key=issuing_key,
        lifetime=names.TSA_LIFETIME,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(sign=True, commit=True), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
            *revocation_pointers(urls, crl=urls.crl),
        ],
    )


def _ocsp_certificate(
    key: PkiKey, issuing: x509.Certificate, issuing_key: PkiKey, urls: PublicUrls
) -> x509.Certificate:
    return build_certificate(
        subject=names.pki_subject(names.OCSP_NAME),
        public_key=key.public_key(),
        issuer=issuing,
        issuer_key=issuing_key,
        lifetime=names.OCSP_LIFETIME,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(sign=True), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
            (x509.OCSPNoCheck(), False),
            *revocation_pointers(urls, ocsp=False),
        ],
    )
