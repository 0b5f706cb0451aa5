"""Signing's use cases: sign a file or a document with a Decree 30 profile, and the
appearance images. Shared by the HTTP API and the CLI."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol, TypedDict

import sqlalchemy as sa
from pyhanko.sign.signers import Signer

from services.common.bus.messages import DocumentSigned
from services.common.bus.outbox import add_to_outbox
from services.common.bus.topology import EVENTS
from services.common.db import Database
from services.common.errors import NotFound, ValidationFailed
from services.common.storage import ObjectStore, spool
from services.signing import drawings
from services.signing.appearance import Box, Page, Placement, Profile
from services.signing.images import check_png, png_size_mm
from services.signing.models import BUS, AppearanceImage, DocumentVersion, KnownDocument
from services.signing.pades import Level, PadesEngine, SignatureRequest, VisibleSignature
from services.signing.pagecache import PageCache, file_digest, output_digest
from services.signing.parties import Parties, require_own_certificate, require_party
from services.signing.pdfwork import InProcessReading, PdfReading
from services.signing.stampkit import embedded_image

MAX_SIGN_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class SignerIdentity:
    serial: str
    subject: str
    organization: str  # shown on stamps
    common_name: str
    agency: str | None = None  # the certificate's agency (None: a key file, not the PKI)


class KeySource(Protocol):
    def signer(self, agency: str, kind: str, name: str | None) -> tuple[Signer, SignerIdentity]:
        """The current certificate's signer for an agency (organization) or a person."""
        ...


@dataclass(frozen=True)
class SignOptions:
    profile: Profile
    level: Level
    agency: str
    person: str | None = None  # the certificate holder for the personal profile
    signer_full_name: str | None = None  # the name printed on the page, to find the gap
    page: int | None = None  # 1-based, with box
    box: Box | None = None
    reason: str | None = None
    location: str | None = None
    document_code: str | None = None  # shown on attachment stamps
    image_png: bytes | None = None  # instead of the registered seal / signature image

    def __post_init__(self) -> None:
        # JSON true is a Python int: a page number must be a real whole number
        if self.page is not None and (type(self.page) is not int or self.page < 1):
            raise ValidationFailed(
                "page is a whole number counting from 1", [{"field": "page", "message": ">= 1"}]
            )


@dataclass(frozen=True)
class SignedFile:
    field_name: str
    identity: SignerIdentity
    profile: Profile
    level: Level
    signed_at: datetime


class SignedVersion(TypedDict):
    """A document's new signed version, as the API answers it."""

    document: str
    version: int
    sha256: str
    size: int
    previous_sha256: str
    field_name: str
    profile: str
    level: str
    certificate_serial: str
    signer: str
    signed_at: str


def _now() -> datetime:
    return datetime.now(UTC)


class SigningService:
    """Signing files and stored documents, and the appearance images they show."""

    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        engine: PadesEngine,
        keys: KeySource,
        spool_dir: Path,
        pdf: PdfReading | None = None,
        pages: PageCache | None = None,
    ) -> None:
        """``pdf``: where the document's pages are read (untrusted files: the PDF pool,
        :class:`~.pdfwork.PooledReading`); in this process by default."""
        self.pdf = pdf or InProcessReading()
        self.pages = pages or PageCache()
        self.db = db
        self.store = store
        self.engine = engine
        self.keys = keys
        self.spool_dir = spool_dir

    # --- appearance images ---------------------------------------------------

    def register_image(
        self, agency: str, kind: str, png: bytes, person: str | None = None
    ) -> AppearanceImage:
        if kind not in ("seal", "signature"):
            raise ValidationFailed("an appearance image is a seal or a signature")
        if kind == "signature" and not person:
            raise ValidationFailed("a signature image belongs to a person: give their name")
        check_png(png, role=kind)
        width_mm, height_mm = png_size_mm(png)
        with self.db.unit_of_work() as session:
            session.execute(
                sa.update(AppearanceImage)
                .where(
                    AppearanceImage.agency_code == agency,
                    AppearanceImage.kind == kind,
                    _person_is(person),
                    AppearanceImage.is_current.is_(True),
                )
                .values(is_current=False)
            )
            image = AppearanceImage(
                agency_code=agency,
                kind=kind,
                person=person,
                png=png,
                sha256=hashlib.sha256(png).hexdigest(),
                width_mm=width_mm,
                height_mm=height_mm,
                is_current=True,
                created_at=_now(),
            )
            session.add(image)
        return image

    def current_image(self, agency: str, kind: str, person: str | None = None) -> AppearanceImage:
        with self.db.reading() as session:
            image = session.scalars(
                sa.select(AppearanceImage)
                .where(
                    AppearanceImage.agency_code == agency,
                    AppearanceImage.kind == kind,
                    _person_is(person),
                    AppearanceImage.is_current.is_(True),
                )
                .order_by(AppearanceImage.id.desc())
            ).first()
        if image is None:
            who = f"{person} of {agency}" if person else agency
            raise NotFound(
                f"no {kind} image is registered for {who}; register one with `lienthong pki images`"
            )
        return image

    # --- signing -------------------------------------------------------------

    def _page(self, source: Path, digest: str, index: int) -> Page:
        page = self.pages.get(digest, index)
        return page if page is not None else self.pdf.page(source, index)

    def _visible(
        self,
        source: Path,
        options: SignOptions,
        identity: SignerIdentity,
        moment: datetime,
        digest: str,
    ) -> tuple[VisibleSignature, int, Page]:
        """The signature's look and place, the fields already there, and the page read
        to place it. ``digest``: the SHA-256 of ``source`` (a page read before for it
        is not read again)."""
        pages, widgets = self.pdf.facts(source)
        explicit = options.box
        if options.page is not None and not 1 <= options.page <= pages:
            raise ValidationFailed(
                f"the document has {pages} pages; there is no page {options.page}"
            )
        profile = options.profile
        if profile in (Profile.COPY, Profile.ATTACHMENT):
            index = options.page - 1 if options.page else 0
            page = self._page(source, digest, index)
            look = drawings.text_only(
                page, profile, identity.organization, moment, options.document_code, explicit
            )
        elif profile is Profile.PERSONAL:
            png = (
                options.image_png
                or self.current_image(options.agency, "signature", options.person).png
            )
            index = options.page - 1 if options.page else pages - 1
            page = self._page(source, digest, index)
            name = options.signer_full_name or options.person or identity.common_name
            look = drawings.personal(page, embedded_image(png), name, explicit)
        else:
            seal_png = options.image_png or self.current_image(options.agency, "seal").png
            personal_box = None
            index = options.page - 1 if options.page else pages - 1
            if explicit is None:
                signed = [w for w in widgets if w.signed and w.page == index]
                if not signed:
                    raise ValidationFailed(
                        "no signed personal signature on the last page to place the seal "
                        "over; sign with the personal profile first or give the box"
                    )
                personal_box = signed[-1].box
            page = self._page(source, digest, index)
            look = drawings.organization(
                page,
                embedded_image(seal_png),
                png_size_mm(seal_png),
                identity.organization,
                moment,
                personal_box,
                explicit,
            )
        return VisibleSignature(look.placement, look.drawing), len(widgets), page

    def placement(
        self, source: Path, options: SignOptions, source_sha256: str | None = None
    ) -> tuple[Placement, list[float]]:
        """Where ``options`` would put the signature on ``source``, and that page's
        visible box [x1, y1, x2, y2] in points: what a person sees, and may move, before signing."""
        personal = options.profile is Profile.PERSONAL
        _signer, identity = self.keys.signer(
            options.agency,
            "personal" if personal else "organization",
            options.person if personal else None,
        )
        visible, _count, page = self._visible(
            source, options, identity, _now(), source_sha256 or file_digest(source)
        )
        return visible.placement, [page.box.x1, page.box.y1, page.box.x2, page.box.y2]

    def sign_file(
        self,
        source: Path,
        output: IO[bytes],
        options: SignOptions,
        source_sha256: str | None = None,
    ) -> SignedFile:
        """Sign ``source`` into ``output``. ``source_sha256``: its digest when the caller
        has it already (it is read to compute it otherwise)."""
        personal = options.profile is Profile.PERSONAL
        # An organization certificate belongs to the agency, not to whoever asks for it.
        signer, identity = self.keys.signer(
            options.agency,
            "personal" if personal else "organization",
            options.person if personal else None,
        )
        require_own_certificate(options.agency, identity.agency, identity.common_name)
        moment = _now()
        visible, existing, page = self._visible(
            source, options, identity, moment, source_sha256 or file_digest(source)
        )
        field_name = f"{options.profile.value}-{existing + 1}"
        request = SignatureRequest(
            field_name=field_name,
            level=options.level,
            visible=visible,
            reason=options.reason,
            location=options.location,
        )
        with source.open("rb") as f:
            self.engine.sign(f, output, signer, request)
        signed = output_digest(output)
        if signed is not None:  # the seal over this signature finds the page read
            self.pages.put(signed, page)
        return SignedFile(field_name, identity, options.profile, options.level, moment)

    def sign_document(
        self, document: str, options: SignOptions, requested_by: str
    ) -> SignedVersion:
        """Sign a document's latest version; the result is stored as its next version."""
        with self.db.reading() as session:
            known = session.get(KnownDocument, document)
            if known is None:
                raise NotFound(
                    f"signing does not know document {document}: no such document, or "
                    "ingest's document.received has not reached signing yet (try again soon)"
                )
            parties = Parties(document, known.sender_code, tuple(known.recipients or ()))
            latest = session.scalars(
                sa.select(DocumentVersion)
                .where(DocumentVersion.document == document)
                .order_by(DocumentVersion.version.desc())
            ).first()
            metadata = dict(known.doc_metadata or {})
        require_party(options.profile, options.agency, parties)
        current_sha = latest.sha256 if latest else known.sha256
        version = (latest.version if latest else 1) + 1
        signer_info = metadata.get("SignerInfo") or {}
        if options.signer_full_name is None and isinstance(signer_info, dict):
            options = replace(options, signer_full_name=signer_info.get("FullName"))
        code = metadata.get("Code") or {}
        if options.document_code is None and isinstance(code, dict) and code.get("CodeNumber"):
            options = replace(
                options, document_code=f"{code.get('CodeNumber')}/{code.get('CodeNotation', '')}"
            )
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.spool_dir) as tmp:
            source = Path(tmp) / "in.pdf"
            with source.open("wb") as out:
                for chunk in self.store.iter_bytes(current_sha):
                    out.write(chunk)
            signed_path = Path(tmp) / "out.pdf"
            with signed_path.open("wb+") as out:
                result = self.sign_file(source, out, options, current_sha)
            with signed_path.open("rb") as f:
                upload = spool(f, self.spool_dir, MAX_SIGN_BYTES)
            try:
                self.store.put(upload)
            finally:
                upload.discard()
        with self.db.unit_of_work() as session:
            row = DocumentVersion(
                document=document,
                version=version,
                sha256=upload.sha256,
                size=upload.size,
                previous_sha256=current_sha,
                profile=result.profile.value,
                level=result.level.value,
                field_name=result.field_name,
                certificate_serial=result.identity.serial,
                signer_subject=result.identity.subject,
                signed_by=requested_by,
                created_at=result.signed_at,
            )
            session.add(row)
            add_to_outbox(
                session,
                BUS,
                DocumentSigned(
                    document=document,
                    version=version,
                    sha256=upload.sha256,
                    size=upload.size,
                    previous_sha256=current_sha,
                    profile=result.profile.value,
                    level=result.level.value,
                    field_name=result.field_name,
                    certificate_serial=result.identity.serial,
                    signer=result.identity.subject,
                    signed_at=result.signed_at.isoformat(),
                ),
                exchange=EVENTS.name,
            )
        return SignedVersion(
            document=document,
            version=version,
            sha256=upload.sha256,
            size=upload.size,
            previous_sha256=current_sha,
            field_name=result.field_name,
            profile=result.profile.value,
            level=result.level.value,
            certificate_serial=result.identity.serial,
            signer=result.identity.subject,
            signed_at=result.signed_at.isoformat(),
        )


def _person_is(person: str | None) -> sa.ColumnElement[bool]:
    return AppearanceImage.person.is_(None) if person is None else AppearanceImage.person == person


def png_bytes(stream: IO[bytes]) -> bytes:
    data = stream.read(20 * 1024 * 1024 + 1)
    if len(data) > 20 * 1024 * 1024:
        raise ValidationFailed("an appearance image may be at most 20 MB")
    return data
