"""The report names the certification path it built, or says why it built none."""

from __future__ import annotations

import json
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from services.signing.verification import Verifier, render_html
from tests.unit.signing.verification.helpers import (
    NOW,
    ThrowawayPki,
    _key,
    _name,
    flip_byte,
)


def _first(verifier: Verifier, pdf: bytes) -> dict[str, object]:
    data = json.loads(verifier.verify(pdf).to_json())
    sig: dict[str, object] = data["signatures"][0]
    return sig


def test_the_chain_built_is_named(verifier: Verifier, pki: ThrowawayPki, signed_bb: bytes) -> None:
    sig = _first(verifier, signed_bb)
    assert sig["verdict"] == "valid"
    assert sig["trust_path"] == [
        pki.signer.asn1.subject.human_friendly,
        pki.root.asn1.subject.human_friendly,
    ]
    assert sig["trust_path_problem"] is None


def _other_root() -> bytes:
    key = _key()
    name = _name("Another Root CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_no_chain_names_the_missing_issuer(signed_bb: bytes) -> None:
    verifier = Verifier([_other_root()], allow_fetching=False)
    sig = _first(verifier, signed_bb)
    assert sig["verdict"] == "indeterminate"
    assert sig["trust_path"] == []
    problem = str(sig["trust_path_problem"])
    assert problem.startswith("no chain to a trusted root")
    assert "not among the 1 trust anchor" in problem
    assert "Liên Thông Test Root" in problem
    report = verifier.verify(signed_bb)
    assert "not among the 1 trust anchor" in render_html(report)


def test_a_rejected_chain_is_named_with_the_reason(signed_bb: bytes) -> None:
    """An anchor with the same name but another key: a path is built, then rejected."""
    impostor = ThrowawayPki()
    sig = _first(Verifier([impostor.root.pem], allow_fetching=False), signed_bb)
    assert sig["verdict"] == "indeterminate"
    assert sig["trust_path"]
    assert str(sig["trust_path_problem"]).startswith("a chain was built but not accepted: ")


def test_no_anchors_at_all(signed_bb: bytes) -> None:
    sig = _first(Verifier([], allow_fetching=False), signed_bb)
    assert sig["trust_path"] == []
    assert "not among the 0 trust anchors" in str(sig["trust_path_problem"])


def test_a_broken_signature_says_so(verifier: Verifier, signed_bb: bytes) -> None:
    tampered = flip_byte(signed_bb, b"Hello, Lien Thong")
    sig = _first(verifier, tampered)
    assert sig["verdict"] == "invalid"
    assert sig["trust_path_problem"] is not None
