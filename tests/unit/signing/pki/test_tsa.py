"""The RFC 3161 time-stamp authority: granted tokens, and refusals in-protocol."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime

import pytest
from asn1crypto import algos, cms, core, tsp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from services.signing.pki import names
from services.signing.pki.service import PkiService
from services.signing.pki.tsa import TimeStampResp


def _query(
    data: bytes = b"hello",
    algorithm: str = "sha256",
    *,
    nonce: int | None = None,
    cert_req: bool = True,
    policy: str | None = None,
    digest: bytes | None = None,
) -> bytes:
    request: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
            "hashed_message": digest
            if digest is not None
            else hashlib.new(algorithm, data).digest(),
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        request["nonce"] = nonce
    if policy is not None:
        request["req_policy"] = policy
    return tsp.TimeStampReq(request).dump()


def _reply(pki: PkiService, query: bytes) -> TimeStampResp:
    return TimeStampResp.load(pki.timestamp_reply(query))


def test_granted_token(pki: PkiService) -> None:
    nonce = int.from_bytes(os.urandom(8), "big")
    before = datetime.now(UTC)
    reply = _reply(pki, _query(b"document bytes", nonce=nonce))
    after = datetime.now(UTC)
    assert reply["status"]["status"].native == "granted"
    token = reply["time_stamp_token"]
    assert token["content_type"].native == "signed_data"
    signed = token["content"]
    assert signed["encap_content_info"]["content_type"].native == "tst_info"
    info = signed["encap_content_info"]["content"].parsed
    assert info["policy"].native == names.TSA_POLICY_OID
    assert (
        info["message_imprint"]["hashed_message"].native
        == hashlib.sha256(b"document bytes").digest()
    )
    assert info["nonce"].native == nonce
    assert info["accuracy"]["seconds"].native == 1
    assert info["serial_number"].native > 0
    gen_time = info["gen_time"].native
    assert before.replace(microsecond=0) <= gen_time <= after
    assert info["tsa"].chosen.native["common_name"] == names.TSA_NAME

    material = pki.material
    included = [c.dump() for c in signed["certificates"]]
    assert material.tsa_der in included and material.issuing_der in included

    signer = signed["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert attrs["content_type"].native == "tst_info"
    assert (
        attrs["message_digest"].native
        == hashlib.sha256(signed["encap_content_info"]["content"].contents).digest()
    )
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(material.tsa_der).digest()
    assert ess["issuer_serial"]["serial_number"].native == material.tsa_cert.serial_number
    assert ess.contents[0] == 0x04  # DER leaves the default hashAlgorithm (sha256) out

    # The signature covers the signed attributes as a DER SET.
    signed_attrs = signer["signed_attrs"].dump()
    key = material.tsa_cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(
        signer["signature"].native,
        b"\x31" + signed_attrs[1:],
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_token_validates_with_pyhanko(pki: PkiService) -> None:
    digest = hashlib.sha256(b"abc").digest()
    token = asyncio.run(pki.timestamper().async_timestamp(digest, "sha256"))
    context = ValidationContext(trust_roots=[pki.material.root_asn1], allow_fetching=False)
    status = asyncio.run(validate_tst_signed_data(token["content"], context, lambda _alg: digest))
    assert status["intact"] and status["valid"]
    assert status["trust_problem_indic"] is None


def test_no_cert_req_no_certificates(pki: PkiService) -> None:
    reply = _reply(pki, _query(cert_req=False))
    assert reply["status"]["status"].native == "granted"
    assert not reply["time_stamp_token"]["content"]["certificates"]


def test_serials_differ(pki: PkiService) -> None:
    serials = {
        _reply(pki, _query())["time_stamp_token"]["content"]["encap_content_info"]["content"]
        .parsed["serial_number"]
        .native
        for _ in range(5)
    }
    assert len(serials) == 5


@pytest.mark.parametrize(
    ("query", "fail_info"),
    [
        (_query(algorithm="sha1"), "bad_alg"),
        (_query(algorithm="md5"), "bad_alg"),
        (_query(digest=b"\x00" * 20), "bad_data_format"),
        (_query(policy="1.2.3.4"), "unaccepted_policy"),
        (b"", "bad_data_format"),
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),
        (b"garbage", "bad_data_format"),
        (b"\x30" * 20000, "bad_data_format"),
    ],
)
def test_refusals(pki: PkiService, query: bytes, fail_info: str) -> None:
    reply = _reply(pki, query)
    assert reply["status"]["status"].native == "rejection"
    assert reply["status"]["fail_info"].native == {fail_info}
    assert isinstance(reply["time_stamp_token"], core.Void)


def test_our_policy_is_accepted(pki: PkiService) -> None:
    reply = _reply(pki, _query(policy=names.TSA_POLICY_OID))
    assert reply["status"]["status"].native == "granted"


def test_request_extensions_are_refused(pki: PkiService) -> None:
    request = tsp.TimeStampReq.load(_query())
    with_ext = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": request["message_imprint"],
            "extensions": [{"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"}],
        }
    )
    reply = _reply(pki, with_ext.dump())
    assert reply["status"]["fail_info"].native == {"unaccepted_extensions"}


def test_content_info_type(pki: PkiService) -> None:
    token = _reply(pki, _query())["time_stamp_token"]
    assert isinstance(token, cms.ContentInfo)
