"""What the edXML tests share: the ingest app with a routing fake that also takes back
and tells timelines, a signing fake that signs and verifies with the real XML-DSig code
(services.signing.xmldsig) under a throwaway CA, the sample packages, and helpers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import Flask
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore
from werkzeug.test import TestResponse

from services.common.bus.envelope import wrap
from services.common.bus.messages import DeliveryStatusChanged
from services.common.contract import Status
from services.common.errors import Conflict, NotFound
from services.common.internal_api import (
    StatusReport,
    TakeBackAnswer,
    TakeBackOutcome,
    TakeBackRequest,
    Timeline,
    TimelineEvent,
)
from services.common.wiring import context_of, migrate
from services.ingest.agencies import add_agency, create_api_key
from services.ingest.app import create_app
from services.ingest.context import IngestContext
from services.ingest.edxml.signatures import XmlSignatures
from services.ingest.projections import on_delivery_dispatched
from services.ingest.settings import IngestSettings
from services.routing.lifecycle import DeliveryState, Role, next_state
from services.signing.xmldsig import sign_package, verify_package
from tests.unit.ingest.test_api import (
    MAX_UPLOAD,
    RECIPIENT,
    SENDER,
    THIRD,
    FakeRouting,
    Ingest,
    dispatched_message,
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "edxml"
OLD_CODE = "28.22.H17"  # an old district-level code, outside QĐ 20's form
TENANT = "vxp.saas.03"  # a tenant code of a shared platform
XML = "application/xml"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# --- routing ---------------------------------------------------------------------------


@dataclass
class EdxmlRouting(FakeRouting):
    """FakeRouting that also keeps every event (a timeline) and takes documents back."""

    events: list[TimelineEvent] = field(default_factory=list)

    def report_status(self, delivery_id: str, report: StatusReport) -> DeliveryStatusChanged:
        before = self.seqs.get(delivery_id, 0)
        changed = super().report_status(delivery_id, report)
        if changed.seq - before == 2:
            self._event(delivery_id, Status.ARRIVED, changed.recipient, "", {}, changed.seq - 1)
        self._event(
            delivery_id,
            report.code,
            report.reported_by,
            report.description,
            report.staff,
            changed.seq,
        )
        return changed

    def _event(
        self,
        delivery_id: str,
        code: Status,
        by: str,
        description: str,
        staff: dict[str, object],
        seq: int,
    ) -> None:
        self.events.append(
            {
                "delivery_id": delivery_id,
                "OrganId": self.deliveries[delivery_id][2],
                "seq": seq,
                "code": code.value,
                "status_after": self.states[delivery_id].status,
                "at": dt.datetime.now(dt.UTC).isoformat(),
                "reported_by": by,
                "description": description,
                "staff": staff,
            }
        )

    def arrived(self, delivery_id: str) -> None:
        """What routing records from the connector's delivery.arrived: 01."""
        self.states[delivery_id] = next_state(DeliveryState(), Status.ARRIVED, Role.RECIPIENT)
        self.seqs[delivery_id] = 1
        recipient = self.deliveries[delivery_id][2]
        self._event(delivery_id, Status.ARRIVED, recipient, "", {}, 1)

    def take_back(self, document: str, request: TakeBackRequest) -> TakeBackAnswer:
        outcomes: list[TakeBackOutcome] = []
        for delivery_id, (doc, _sender, recipient) in sorted(self.deliveries.items()):
            if doc != document:
                continue
            state = self.states.get(delivery_id, DeliveryState())
            try:
                state = next_state(state, Status.TAKE_BACK_REQUESTED, Role.SENDER)
            except Conflict as e:
                outcomes.append(
                    {
                        "OrganId": recipient,
                        "delivery_id": delivery_id,
                        "requested": False,
                        "reason": e.detail,
                        "status": state.status,
                    }
                )
                continue
            self.states[delivery_id] = state
            self.seqs[delivery_id] = self.seqs.get(delivery_id, 0) + 1
            self._event(
                delivery_id,
                Status.TAKE_BACK_REQUESTED,
                request.requested_by,
                request.reason,
                dict(request.staff),
                self.seqs[delivery_id],
            )
            outcomes.append(
                {
                    "OrganId": recipient,
                    "delivery_id": delivery_id,
                    "requested": True,
                    "status": state.status,
                }
            )
        return {"document": document, "kind": request.kind, "deliveries": outcomes}

    def timeline(self, document: str) -> Timeline:
        mine = {d for d, (doc, _, _) in self.deliveries.items() if doc == document}
        if not mine:
            raise NotFound(f"no exchange for document {document}")
        return {
            "document": document,
            "document_id": "",
            "sender": SENDER,
            "sent_at": "",
            "supersedes": None,
            "deliveries": [],
            "events": [e for e in self.events if e["delivery_id"] in mine],
        }


# --- signing ---------------------------------------------------------------------------


def _certificate(
    name: str, issuer: x509.Name | None, issuer_key: rsa.RSAPrivateKey | None, ca: bool
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key or key, hashes.SHA256())
    )
    return key, cert


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class SigningPki:
    root: x509.Certificate
    signers: dict[str, tuple[SimpleSigner, x509.Certificate]]
    stranger: tuple[SimpleSigner, x509.Certificate]  # a certificate no anchor vouches for


def _signer(key: rsa.RSAPrivateKey, cert: x509.Certificate) -> SimpleSigner:
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(_der(cert)),
        signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=SimpleCertificateStore(),
    )


@pytest.fixture(scope="session")
def test_pki() -> SigningPki:
    root_key, root = _certificate("Liên Thông Test Root", None, None, True)
    signers = {}
    for code, name in ((SENDER, "UBND tỉnh Quảng Ninh"), (RECIPIENT, "Văn phòng Chính phủ")):
        key, cert = _certificate(name, root.subject, root_key, False)
        signers[code] = (_signer(key, cert), cert)
    key, cert = _certificate("Stranger", None, None, False)
    return SigningPki(root, signers, (_signer(key, cert), cert))


@dataclass
class FakeXmlSignatures:
    """The signing service's XML-DSig API, minus HTTP: the real sign and verify code."""

    pki: SigningPki
    verified: list[str] = field(default_factory=list)

    def verify(self, package: Path) -> dict[str, Any]:
        self.verified.append(package.name)
        return verify_package(package.read_bytes(), [self.pki.root]).to_json()

    def sign(self, agency: str, package: bytes) -> bytes:
        if agency not in self.pki.signers:
            raise NotFound(f"agency {agency} has no current organization certificate")
        signer, cert = self.pki.signers[agency]
        return sign_package(package, signer, [_der(cert)])


def sign_as(pki: SigningPki, agency: str | None, package: bytes) -> bytes:
    """A package signed by an agency's certificate (None: by an untrusted stranger)."""
    signer, cert = pki.signers[agency] if agency else pki.stranger
    return sign_package(package, signer, [_der(cert)])


# --- the app ---------------------------------------------------------------------------


@dataclass
class EdxmlIngest(Ingest):
    signatures: FakeXmlSignatures = field(default=None)  # type: ignore[assignment]

    @property
    def fake_routing(self) -> EdxmlRouting:
        assert isinstance(self.routing, EdxmlRouting)
        return self.routing

    def post_package(
        self, body: bytes, agency: str = SENDER, *, key: str | None = None
    ) -> TestResponse:
        headers = {**self.auth(agency), "Content-Type": XML}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post("/v1/edxml", data=body, headers=headers)

    def deliver(
        self, answer: dict[str, Any], recipient: str = RECIPIENT, sender: str = SENDER
    ) -> str:
        """routing's copy reaching the recipient's inbox (as the connector does it)."""
        delivery_id = str(uuid.uuid4())
        msg = replace(dispatched_message(answer, delivery_id, recipient), sender=sender)
        with self.ctx.db.unit_of_work() as session:
            on_delivery_dispatched(session, msg, wrap(msg))
        self.routing.add_delivery(delivery_id, answer["id"], sender, recipient)
        self.fake_routing.arrived(delivery_id)
        return delivery_id


def make_ingest(
    tmp_path: Path,
    pki: SigningPki,
    env: dict[str, str] | None = None,
    signatures: XmlSignatures | None = None,
) -> EdxmlIngest:
    data_dir = tmp_path / "data"
    settings = IngestSettings.from_env(
        {
            "LIENTHONG_DATA_DIR": str(data_dir),
            "LIENTHONG_BROKER_URL": "memory://",
            "LIENTHONG_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
            **(env or {}),
        }
    )
    migrate("ingest", settings.database_url)
    routing = EdxmlRouting()
    fake = FakeXmlSignatures(pki)
    app: Flask = create_app(settings, routing=routing, xml_signatures=signatures or fake)
    app.config["TESTING"] = True
    ctx = context_of(app, IngestContext)
    keys = {}
    for code, name in [
        (SENDER, "UBND tỉnh Quảng Ninh"),
        (RECIPIENT, "Văn phòng Chính phủ"),
        (THIRD, "Sở Nội vụ"),
        (OLD_CODE, "UBND xã Tân Lập"),
        (TENANT, "Hệ thống dùng chung"),
    ]:
        add_agency(ctx.db, code, name)
        keys[code] = create_api_key(ctx.db, code, label="unit")
    return EdxmlIngest(app, app.test_client(), ctx, routing, keys, settings.common.data_dir, fake)


@pytest.fixture
def edx(tmp_path: Path, test_pki: SigningPki) -> Iterator[EdxmlIngest]:
    ingest = make_ingest(tmp_path, test_pki)
    yield ingest
    ingest.ctx.db.dispose()
