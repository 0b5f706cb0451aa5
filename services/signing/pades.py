"""PAdES signing: the only module that signs PDFs with pyHanko.

Levels: B-B (signature), B-T (+ RFC 3161 signature time-stamp), B-LT (+ the
validation data in the DSS), B-LTA (+ a document time-stamp over all of it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import IO

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko_certvalidator import ValidationContext

from services.common.errors import LienThongError, ValidationFailed
from services.signing.appearance import Placement
from services.signing.errors import NotAPdf
from services.signing.stampkit import Drawing, KitStampStyle


class Level(Enum):
    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @classmethod
    def parse(cls, text: str) -> Level:
        wanted = text.strip().upper().replace("_", "-")
        wanted = wanted if wanted.startswith("B-") else "B-" + wanted.removeprefix("B")
        for level in cls:
            if level.value == wanted:
                return level
        raise ValidationFailed(f"unknown PAdES level {text!r}: use B-B, B-T, B-LT or B-LTA")


class SigningFailed(LienThongError):
    status = 422
    code = "signing_failed"
    title = "The document could not be signed"


@dataclass(frozen=True)
class VisibleSignature:
    placement: Placement
    drawing: Drawing


@dataclass(frozen=True)
class SignatureRequest:
    field_name: str
    level: Level
    visible: VisibleSignature | None = None
    reason: str | None = None
    location: str | None = None
    contact: str | None = None


class _SuppliedValidationData(logging.Filter):
    """B-LT embeds CRLs we make in-process, so pyHanko's warning that fetching is
    off says nothing useful here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_SuppliedValidationData())

# Room for the CMS blob: signer chain plus a time-stamp token with the TSA chain.
RESERVED = {
    Level.B_B: 12 * 1024,
    Level.B_T: 24 * 1024,
    Level.B_LT: 24 * 1024,
    Level.B_LTA: 24 * 1024,
}


class PadesEngine:
    """Signs with a ready signer. Time-stamps and validation data come from the PKI
    through callables, so its CA material is loaded only when first needed."""

    def __init__(
        self,
        timestamper: Callable[[], TimeStamper] | None,
        validation_context: Callable[[], ValidationContext] | None,
    ) -> None:
        self.timestamper = timestamper
        self.validation_context = validation_context

    def _metadata(self, request: SignatureRequest) -> signers.PdfSignatureMetadata:
        long_term = request.level in (Level.B_LT, Level.B_LTA)
        context = None
        if long_term:
            if self.validation_context is None:
                raise SigningFailed(f"{request.level.value} needs validation data; none is set up")
            context = self.validation_context()
        return signers.PdfSignatureMetadata(
            field_name=request.field_name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=request.reason,
            location=request.location,
            contact_info=request.contact,
            embed_validation_info=long_term,
            validation_context=context,
            use_pades_lta=request.level is Level.B_LTA,
        )

    def sign(
        self,
        source: IO[bytes],
        output: IO[bytes],
        signer: signers.Signer,
        request: SignatureRequest,
    ) -> None:
        if request.level is not Level.B_B and self.timestamper is None:
            raise SigningFailed(f"{request.level.value} needs a time-stamp authority")
        try:
            writer = IncrementalPdfFileWriter(source, strict=False)
        except (PdfError, ValueError, KeyError, TypeError) as e:
            raise NotAPdf(f"the PDF cannot be read: {e}") from e
        if writer.prev.encrypted:
            raise ValidationFailed("encrypted PDFs cannot be signed")
        field_spec = None
        style = None
        if request.visible is not None:
            box = request.visible.placement.box
            field_spec = fields.SigFieldSpec(
                request.field_name,
                on_page=request.visible.placement.page,
                box=box.as_tuple(),
            )
            style = KitStampStyle(request.visible.drawing)
        pdf_signer = signers.PdfSigner(
            self._metadata(request),
            signer=signer,
            timestamper=(
                self.timestamper() if self.timestamper and request.level is not Level.B_B else None
            ),
            stamp_style=style,
            new_field_spec=field_spec,
        )
        try:
            pdf_signer.sign_pdf(writer, output=output, bytes_reserved=RESERVED[request.level])
        except LienThongError:
            raise
        except Exception as e:
            if "reserved" in str(e).lower() and "bytes" in str(e).lower():
                # Larger than we guessed (a long chain): let pyHanko size it, once.
                output.seek(0)
                output.truncate()
                source.seek(0)
                writer = IncrementalPdfFileWriter(source, strict=False)
                pdf_signer.sign_pdf(writer, output=output)
                return
            raise SigningFailed(f"signing failed: {type(e).__name__}: {e}") from e
