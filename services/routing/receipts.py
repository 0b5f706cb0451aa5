"""Delivery receipts signed with the platform's key: compact JWS (EdDSA, Ed25519).

A receipt states what the platform recorded about one delivery: the document
and its SHA-256, sender, recipient, and every status event with its time. The
sender can keep it and verify it offline with the platform's public key
(`GET /receipts/key`, or `lienthong receipts key`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.errors import ValidationFailed
from services.routing.views import DeliveryView, ExchangeView


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ReceiptEvent(TypedDict):
    seq: int
    code: str
    at: str
    reported_by: str


class ReceiptClaims(TypedDict):
    """What a receipt states (a JWS payload: ``iss`` and ``iat`` as in JWT)."""

    iss: str
    iat: int
    delivery_id: str
    document: str
    document_id: str
    sha256: str
    sender: str
    recipient: str
    status: str | None
    events: list[ReceiptEvent]


@dataclass(frozen=True)
class ReceiptKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    def public_pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def jwk(self) -> dict[str, str]:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64(raw),
            "kid": self.key_id,
            "use": "sig",
            "alg": "EdDSA",
        }

    def sign(self, claims: ReceiptClaims) -> str:
        header = {"alg": "EdDSA", "typ": "lienthong-receipt+jwt", "kid": self.key_id}
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(
                json.dumps(
                    claims, ensure_ascii=False, sort_keys=True, separators=(",", ":")
                ).encode()
            )
        )
        return signing_input + "." + _b64(self.private.sign(signing_input.encode()))


def load_or_create(path: Path) -> ReceiptKey:
    """The platform's receipt key (PEM, PKCS#8); created once, readable by us only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.replace(path)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValidationFailed(f"{path} is not an Ed25519 private key")
    return ReceiptKey(loaded)


class ReceiptKeys:
    """The platform's receipt key at ``path``. This holder is built once at start-up
    and shared by every request thread; the key itself is loaded (or created) on
    first use, then kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: ReceiptKey | None = None
        self._lock = threading.Lock()

    def get(self) -> ReceiptKey:
        key = self._key
        if key is None:
            with self._lock:
                if self._key is None:
                    self._key = load_or_create(self.path)
                key = self._key
        return key


def verify_receipt(token: str, public_pem: bytes) -> ReceiptClaims:
    """The receipt's claims if its signature holds under this public key; else raise."""
    from cryptography.exceptions import InvalidSignature

    public = serialization.load_pem_public_key(public_pem)
    if not isinstance(public, Ed25519PublicKey):
        raise ValidationFailed("the receipt key must be an Ed25519 public key")
    try:
        header_b64, claims_b64, signature_b64 = token.strip().split(".")
        header = json.loads(_unb64(header_b64))
        if header.get("alg") != "EdDSA":
            raise ValidationFailed(f"unexpected receipt algorithm {header.get('alg')!r}")
        public.verify(_unb64(signature_b64), f"{header_b64}.{claims_b64}".encode())
        # Ours: the signature holds, so the claims are what receipt_claims wrote.
        return cast(ReceiptClaims, json.loads(_unb64(claims_b64)))
    except InvalidSignature as e:
        raise ValidationFailed(
            "the receipt's signature does not verify: it was altered or signed by another key"
        ) from e
    except (ValueError, json.JSONDecodeError) as e:
        raise ValidationFailed(f"not a receipt: {e}") from e


def receipt_claims(delivery: DeliveryView, exchange: ExchangeView) -> ReceiptClaims:
    return {
        "iss": "lienthong-routing",
        "iat": int(datetime.now(UTC).timestamp()),
        "delivery_id": delivery["delivery_id"],
        "document": exchange["document"],
        "document_id": exchange["document_id"],
        "sha256": exchange["sha256"],
        "sender": exchange["sender"],
        "recipient": delivery["recipient"],
        "status": delivery["status"],
        "events": [
            {"seq": e["seq"], "code": e["code"], "at": e["at"], "reported_by": e["reported_by"]}
            for e in delivery["events"]
        ],
    }
