"""The RFC 3161 time-stamp authority.

A granted reply carries a CMS SignedData over a TSTInfo (our policy, a random
serial, genTime in UTC to the millisecond, accuracy one second, the request's
nonce), signed by the TSA certificate with the signing-certificate-v2 attribute
(RFC 5816). With certReq the TSA and issuing CA certificates are included.
Refusals are in-protocol: status rejection with the failInfo that says why.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pyhanko.sign.timestamps.api import TimeStamper

from services.signing.pki import names
from services.signing.pki.material import PkiMaterial

log = logging.getLogger(__name__)

# Message-imprint algorithms we time-stamp; SHA-1 and MD5 are refused (badAlg).
SUPPORTED_IMPRINTS = {
    "sha256": 32,
    "sha384": 48,
    "sha512": 64,
    "sha3_256": 32,
    "sha3_384": 48,
    "sha3_512": 64,
}
MAX_REQUEST = 16 * 1024


class TimeStampResp(tsp.TimeStampResp):
    """RFC 3161's TimeStampResp: asn1crypto forgets that the token is OPTIONAL, so a
    rejection (a status and no token) could neither be built nor read with its class."""

    _fields = [  # noqa: RUF012 - asn1crypto's own convention
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class Refused(Exception):
    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


def refusal(fail_info: str, text: str) -> TimeStampResp:
    # asn1crypto silently drops a bit name it does not know: check ours.
    assert fail_info in tsp.PKIFailureInfo._map.values(), fail_info
    return TimeStampResp(
        {
            "status": tsp.PKIStatusInfo(
                {
                    "status": tsp.PKIStatus("rejection"),
                    "status_string": tsp.PKIFreeText([text]),
                    "fail_info": tsp.PKIFailureInfo({fail_info}),
                }
            )
        }
    )


class TimeStampAuthority:
    def __init__(self, material: PkiMaterial) -> None:
        self.material = material
        cert = material.tsa_asn1
        self._sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": cert.issuer, "serial_number": cert.serial_number}
                )
            }
        )
        self._signing_certificate = tsp.SigningCertificateV2(
            {
                "certs": [
                    tsp.ESSCertIDv2(
                        {
                            # sha256 is ESSCertIDv2's default algorithm: DER leaves it out.
                            "cert_hash": hashlib.sha256(material.tsa_der).digest(),
                            "issuer_serial": tsp.IssuerSerial(
                                {
                                    "issuer": [
                                        asn1_x509.GeneralName(
                                            name="directory_name", value=cert.issuer
                                        )
                                    ],
                                    "serial_number": cert.serial_number,
                                }
                            ),
                        }
                    )
                ]
            }
        )
        self._tsa_name = asn1_x509.GeneralName(name="directory_name", value=cert.subject)
        # What every token repeats, encoded once: asn1crypto re-encodes (and deep-copies,
        # to retag) structures built from parsed objects, which cost more than the RSA
        # signature. Each token loads these DER pieces lazily, so they are written as is.
        self._sid_der = self._sid.dump()
        self._signing_certificate_der = cms.CMSAttribute(
            {"type": "signing_certificate_v2", "values": [self._signing_certificate]}
        ).dump()
        self._certificates_der = cms.CertificateSet([cert, material.issuing_asn1]).dump()
        self._tsa_name_der = self._tsa_name.dump()

    # --- protocol ---------------------------------------------------------------------

    def respond(self, query: bytes) -> bytes:
        """A DER TimeStampResp for a DER TimeStampReq; never raises."""
        if not query or len(query) > MAX_REQUEST:
            return refusal("bad_data_format", "the request is empty or too large").dump()
        try:
            request = tsp.TimeStampReq.load(query, strict=True)
            request.native  # noqa: B018 - parse every field now, not half-way through
        except Exception as e:
            log.info("malformed time-stamp request: %s", e)
            return refusal("bad_data_format", "the request is not a DER TimeStampReq").dump()
        return self.respond_to(request).dump()

    def respond_to(self, request: tsp.TimeStampReq, at: datetime | None = None) -> TimeStampResp:
        try:
            self._check(request)
            token = self._token(request, at or datetime.now(UTC))
        except Refused as e:
            return refusal(e.fail_info, e.text)
        except Exception:
            log.exception("time-stamp authority failed")
            return refusal("system_failure", "the time-stamp authority failed")
        return TimeStampResp(
            {
                "status": tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")}),
                "time_stamp_token": token,
            }
        )

    @staticmethod
    def _check(request: tsp.TimeStampReq) -> None:
        if request["version"].native != "v1":
            raise Refused("bad_request", "only version 1 requests are understood")
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if algorithm not in SUPPORTED_IMPRINTS:
            supported = ", ".join(SUPPORTED_IMPRINTS)
            raise Refused("bad_alg", f"hash algorithm {algorithm} is not accepted; use {supported}")
        if len(imprint["hashed_message"].native) != SUPPORTED_IMPRINTS[algorithm]:
            raise Refused("bad_data_format", f"the hashed message is not a {algorithm} digest")
        policy = request["req_policy"].native
        if policy is not None and policy != names.TSA_POLICY_OID:
            raise Refused(
                "unaccepted_policy", f"policy {policy} is not ours ({names.TSA_POLICY_OID})"
            )
        if request["extensions"].native:
            raise Refused("unaccepted_extensions", "no request extension is supported")

    # --- token ------------------------------------------------------------------------

    def _tst_info(self, request: tsp.TimeStampReq, moment: datetime) -> tsp.TSTInfo:
        info = {
            "version": "v1",
            "policy": names.TSA_POLICY_OID,
            "message_imprint": tsp.MessageImprint.load(request["message_imprint"].dump()),
            "serial_number": secrets.randbits(127) | (1 << 126),  # positive, 16 bytes
            "gen_time": core.GeneralizedTime(
                moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)
            ),
            "accuracy": tsp.Accuracy({"seconds": 1}),
            "tsa": asn1_x509.GeneralName.load(self._tsa_name_der),
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        return tsp.TSTInfo(info)

    def _token(self, request: tsp.TimeStampReq, moment: datetime) -> cms.ContentInfo:
        tst_info = self._tst_info(request, moment)
        content = tst_info.dump()
        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute(
                    {
                        "type": "signing_time",
                        "values": [
                            cms.Time(
                                {
                                    "generalized_time": core.GeneralizedTime(
                                        moment.replace(microsecond=0)
                                    )
                                }
                            )
                        ],
                    }
                ),
                cms.CMSAttribute(
                    {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
                ),
                cms.CMSAttribute.load(self._signing_certificate_der),
            ]
        )
        signature = self.material.tsa_key.sign(signed_attrs.dump(), PKCS1v15(), hashes.SHA256())
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid_der),
                "digest_algorithm": algos.DigestAlgorithm.load(_SHA256_DER),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm.load(_SHA256_RSA_DER),
                "signature": signature,
            }
        )
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm.load(_SHA256_DER)],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": cms.ParsableOctetString(content),
            },
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            signed_data["certificates"] = cms.CertificateSet.load(self._certificates_der)
        return cms.ContentInfo(
            {"content_type": "signed_data", "content": cms.SignedData(signed_data)}
        )


_SHA256_DER = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
_SHA256_RSA_DER = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}).dump()


class InProcessTimeStamper(TimeStamper):
    """A pyHanko TimeStamper that asks our TSA directly, without HTTP."""

    def __init__(self, authority: TimeStampAuthority, include_nonce: bool = True) -> None:
        super().__init__(include_nonce=include_nonce)
        self.authority = authority

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return self.authority.respond_to(req)
