"""The versioned bus messages, frozen dataclasses (how they travel, as envelopes,
is in ``services.common.bus.envelope``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.bus.envelope import Folded, Message, message
from services.common.contract import Status, Verdict
from services.common.errors import MessageFormatError

# --- The messages ---------------------------------------------------------


@message("agency.registered", 1)
@dataclass(frozen=True)
class AgencyRegistered(Message):
    code: str
    name: str
    parent_code: str | None
    nonstandard_code: bool


@message("document.received", 2)
@dataclass(frozen=True)
class DocumentReceived(Message):
    """A document ingest accepted and stored. The fields routing acts on arrive parsed
    and checked by ingest; ``metadata`` is the normalized edXML metadata as a record.
    (v1 carried only ``metadata``; drain the routing and signing queues before an
    upgrade, see the README.)"""

    document: str  # our id (uuid)
    document_id: str  # the edXML DocumentId
    sender: str
    recipients: tuple[str, ...]
    sha256: str
    size: int
    received_at: str
    subject: str
    priority: int  # edXML OtherInfo/Priority, 0 (normal) .. 4 (urgent)
    due_date: str | None  # DueDate as an ISO date (YYYY-MM-DD), a Vietnam calendar day
    paper: int  # 1: a paper copy travels too
    business_doc_type: int  # edXML BussinessDocType: 0 new, 2 update, 3 replace
    supersedes: str | None  # our id of the document an update or replacement supersedes
    business_reason: str  # BussinessDocReason: why it is updated or replaced
    metadata: dict[str, Any]


@message("delivery.created", 1)
@dataclass(frozen=True)
class DeliveryCreated(Message):
    delivery_id: str
    document: str
    sender: str
    recipient: str
    created_at: str


@message("deliveries.created", 1)
@dataclass(frozen=True)
class DeliveriesCreated(Message):
    """Every delivery routing made for one document, in one message (the sender's
    view of who the document went to). ``delivery_ids[i]`` goes to ``recipients[i]``.
    It replaces one delivery.created per recipient; ingest still reads those."""

    document: str
    sender: str
    delivery_ids: tuple[str, ...]
    recipients: tuple[str, ...]
    created_at: str

    def __post_init__(self) -> None:
        if len(self.delivery_ids) != len(self.recipients):
            raise MessageFormatError("deliveries.created: one recipient per delivery id")


@message("delivery.dispatched", 1)
@dataclass(frozen=True)
class DeliveryDispatched(Message):
    """Published to lt.agency with the recipient's code: the recipient's copy."""

    delivery_id: str
    document: str
    document_id: str
    sender: str
    recipient: str
    sha256: str
    size: int
    subject: str
    dispatched_at: str


@message("delivery.arrived", 1)
@dataclass(frozen=True)
class DeliveryArrived(Message):
    """The recipient's connector took the delivery into its inbox (status 01)."""

    delivery_id: str
    recipient: str
    arrived_at: str


@message("delivery.status_changed", 1)
@dataclass(frozen=True)
class DeliveryStatusChanged(Message):
    delivery_id: str
    document: str
    recipient: str
    code: Status  # the event reported
    status: Status | None  # the delivery's status after it (16 restores the earlier one)
    seq: int
    at: str
    reported_by: str
    description: str
    staff: dict[str, Any]


@message("document.signed", 1)
@dataclass(frozen=True)
class DocumentSigned(Message):
    """A new, signed version of a document is stored (earlier versions stay)."""

    document: str
    version: int
    sha256: str
    size: int
    previous_sha256: str
    profile: str
    level: str
    field_name: str
    certificate_serial: str
    signer: str
    signed_at: str


@message("document.verified", 1)
@dataclass(frozen=True)
class DocumentVerified(Message):
    """The verdict on a document's signatures, checked when it arrived (or re-checked)."""

    document: str
    sha256: str
    verdict: Verdict
    signature_count: int
    signers: tuple[str, ...]
    organization_signed: bool  # a valid signature by an organization certificate
    verified_at: str
    reasons: tuple[str, ...]


@message("document.verified", 2)
@dataclass(frozen=True)
class DocumentVerifiedV2(DocumentVerified):
    """v1 plus whether the document is a scan: every page carries images only and no
    text layer (decided once, on arrival, for the e-document share). A v1 reader's
    handler accepts it as it is (a subclass); v1 stays parseable for older emitters."""

    scanned: bool | None  # None: the pages could not be read to tell


# --- Deadlines (routing's scheduler) and agency mailboxes -------------------


@message("agency.registered", 2)
@dataclass(frozen=True)
class AgencyRegisteredV2(AgencyRegistered):
    """v1 plus the agency's official mailbox (hòm thư công vụ). A v1 reader's handler
    accepts it as it is (a subclass); v1 stays parseable for older emitters."""

    email: str | None


@message("delivery.due_soon", 1)
@dataclass(frozen=True)
class DeliveryDueSoon(Message):
    """An open delivery entered its due-soon window (emitted once per delivery)."""

    delivery_id: str
    document: str
    document_id: str
    sender: str
    recipient: str
    subject: str
    status: Status | None
    due_at: str
    noticed_at: str


@message("delivery.overdue", 1)
@dataclass(frozen=True)
class DeliveryOverdue(Message):
    """An open delivery passed its due time (emitted once per delivery); the sender
    is escalated to."""

    delivery_id: str
    document: str
    document_id: str
    sender: str
    recipient: str
    subject: str
    status: Status | None
    due_at: str
    noticed_at: str


@message("deliveries.dispatched", 1)
@dataclass(frozen=True)
class DeliveriesDispatched(Folded[DeliveryDispatched]):
    """The copies one routing transaction sent to one recipient agency (lt.agency)."""

    ITEM = DeliveryDispatched


@message("deliveries.arrived", 1)
@dataclass(frozen=True)
class DeliveriesArrived(Folded[DeliveryArrived]):
    """The deliveries one connector transaction put in inboxes (status 01 each)."""

    ITEM = DeliveryArrived


@message("delivery.statuses_changed", 1)
@dataclass(frozen=True)
class DeliveryStatusesChanged(Folded[DeliveryStatusChanged]):
    """The statuses one routing transaction recorded, in the order it recorded them."""

    ITEM = DeliveryStatusChanged


@message("documents.routed", 1)
@dataclass(frozen=True)
class DocumentsRouted(Folded[DeliveriesCreated]):
    """The deliveries.created of every document one routing transaction routed."""

    ITEM = DeliveriesCreated


@message("documents.verified", 1)
@dataclass(frozen=True)
class DocumentsVerified(Folded[DocumentVerified]):
    """The verdicts one signing transaction reached on arriving documents."""

    ITEM = DocumentVerified


@message("documents.verified", 2)
@dataclass(frozen=True)
class DocumentsVerifiedV2(Folded[DocumentVerifiedV2]):
    """The v2 verdicts (with ``scanned``) one signing transaction reached."""

    ITEM = DocumentVerifiedV2
