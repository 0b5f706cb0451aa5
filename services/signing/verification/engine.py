"""The verifier: every signature field of a PDF judged, failing closed.

Build one :class:`Verifier` per trust configuration and reuse it: trust anchors are
parsed and the trust manager is built once; each verification only builds light
per-document validation contexts.

Validation time (why an expired test certificate can still be ``valid``)
-----------------------------------------------------------------------
A certificate is judged at the time the signature was made, not at the time we look
at it, taken from the best evidence available, in this order:

1. a trusted signature time-stamp token (B-T): proven time;
2. the signing time claimed by the signer (CMS ``signingTime`` or the signature
   dictionary's ``/M``), unless ``trust_claimed_signing_time=False`` or the claim lies in
   the future. This is what Adobe Reader does by default ("time from the signer's
   clock"); the report says ``validation_time_source: "claimed"`` so nobody mistakes
   it for proof. It is made safe against back-dating by a stolen key as far as the data
   allows: any revocation known today (embedded or fetched) that is dated *after* a
   merely claimed time makes the signature ``indeterminate`` (no proof it predates the
   revocation); a revocation dated before the claimed or proven time makes it
   ``invalid``;
3. the time of the earliest trusted document time-stamp that covers the signature;
4. now.

Revocation data is accepted retroactively (a CRL or OCSP response issued after the
signing time still tells whether the certificate was revoked *before* it), which is
the point of B-LT/B-LTA. Time-stamp tokens (signature and document) are validated
now; when a TSA certificate has expired since, at the time of a later trusted
document time-stamp (the B-LTA chain).

pyHanko's own test suite freezes the clock instead; with the rule above the corpus
files signed while their certificates were valid verify without freezing anything,
and those signed (by their own claim) after their certificate expired are
``indeterminate``, as they should be.

How the work is divided
-----------------------
:class:`Verifier` holds the entry points (timeout, reading the source, opening the
PDF) and composes the checkers, each built once and holding only configuration:
:class:`~.contexts.Contexts` (trust configuration, validation contexts),
:class:`~.fields.FieldChecker`, :class:`~.timestamps.TimestampChecker`,
:class:`~.signatures.SignatureChecker` and :class:`~.document.DocumentChecker`. What
one verification learns (the parsed document, its revocation data, proofs of
existence) lives in :class:`~.state._Doc`, built here per document and passed to the
checkers explicitly; report wording lives in :mod:`.findings`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from types import EllipsisType
from typing import IO

from pyhanko.pdf_utils.misc import PdfStrictReadError
from pyhanko.sign.diff_analysis import DiffPolicy

from services.common.contract import Verdict
from services.signing.algorithm_policy import AlgorithmPolicy
from services.signing.errors import PdfOverBudget
from services.signing.pdfbudget import check_structure
from services.signing.verification import fastparse, structure
from services.signing.verification.contexts import Contexts
from services.signing.verification.document import DocumentChecker
from services.signing.verification.fields import FieldChecker
from services.signing.verification.findings import _iso, _msg, _now
from services.signing.verification.model import VerificationReport
from services.signing.verification.revocation import RevinfoPool
from services.signing.verification.signatures import SignatureChecker
from services.signing.verification.sources import _SIG_MARK, PdfSource, _Facts, _name_of, _scan
from services.signing.verification.state import _Doc
from services.signing.verification.structure import Structure, Unreadable
from services.signing.verification.timestamps import TimestampChecker
from services.signing.verification.trust import CertSource

log = logging.getLogger(__name__)
fastparse.install()

DEFAULT_TIMEOUT = 60.0


class Verifier:
    """A reusable PDF signature verifier.

    :param trust_roots: trust anchors (see :mod:`.trust` for accepted types). Nothing
        else is trusted: the operating system's list is never consulted.
    :param other_certs: extra intermediate certificates for path building.
    :param allow_fetching: fetch CRLs/OCSP responses from the URLs in certificates.
        With ``False`` the network is never touched.
    :param revocation_mode: pyhanko-certvalidator's mode. ``soft-fail`` (default)
        accepts a certificate whose status cannot be obtained; the report then shows the
        status as ``unknown``. ``hard-fail`` or ``require`` make that indeterminate.
    :param trust_claimed_signing_time: see the module docstring.
    :param timeout: seconds after which a verification is abandoned and reported
        ``unreadable`` (``None``: no limit). The work runs in a daemon thread; for a hard
        guarantee that also reclaims the CPU use :class:`.guard.ProcessVerifier`.
    :param max_revisions: a document with more revisions (incremental updates) is
        ``indeterminate`` without further analysis, whose cost grows faster than the
        number of revisions (``None``: no limit).
    :param max_objects: the same for cross-reference entries over all revisions.
    :param algorithm_policy: accepted digests and key sizes with their sunset dates
        (see :mod:`.algorithms`); the defaults when ``None``.
    """

    def __init__(
        self,
        trust_roots: Iterable[CertSource] = (),
        *,
        other_certs: Iterable[CertSource] = (),
        allow_fetching: bool = False,
        revocation_mode: str = "soft-fail",
        trust_claimed_signing_time: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
        fetch_timeout: float = 10.0,
        diff_policy: DiffPolicy | None = None,
        max_revisions: int | None = None,
        max_objects: int | None = None,
        algorithm_policy: AlgorithmPolicy | None = None,
    ) -> None:
        self.max_revisions = max_revisions
        self.max_objects = max_objects
        self.contexts = Contexts(
            trust_roots,
            other_certs=other_certs,
            allow_fetching=allow_fetching,
            revocation_mode=revocation_mode,
            trust_claimed_signing_time=trust_claimed_signing_time,
            fetch_timeout=fetch_timeout,
            diff_policy=diff_policy,
            algorithm_policy=algorithm_policy,
        )
        self.timeout = timeout
        fields = FieldChecker(self.contexts.diff_policy)
        timestamps = TimestampChecker(self.contexts, fields)
        signatures = SignatureChecker(self.contexts, fields, timestamps)
        self.document = DocumentChecker(self.contexts, fields, timestamps, signatures)

    # ------------------------------------------------------------------ entry points

    def verify(
        self,
        source: PdfSource,
        *,
        now: datetime | None = None,
        timeout: float | EllipsisType | None = ...,
        file_name: str | None = None,
    ) -> VerificationReport:
        """Verify a PDF given as a path, bytes or a binary file object. Never raises for
        a bad document: every problem ends up in the report. ``timeout``: seconds, or
        ``None`` for no limit; left out, the verifier's own."""
        limit = self.timeout if isinstance(timeout, EllipsisType) else timeout
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if limit is None:
            return self._verify_source(source, now, file_name)
        box: dict[str, VerificationReport] = {}

        def run() -> None:
            box["report"] = self._verify_source(source, now, file_name)

        worker = threading.Thread(target=run, name="pdf-verify", daemon=True)
        started = time.perf_counter()
        worker.start()
        worker.join(limit)
        if "report" in box:
            return box["report"]
        if not worker.is_alive():  # died of a BaseException the worker could not report
            return self._bare(
                Verdict.INDETERMINATE,
                ["internal error during verification"],
                now=now,
                file_name=file_name or _name_of(source),
            )
        return self._bare(
            Verdict.UNREADABLE,
            [f"the analysis did not finish within {limit:g} s (pathological file?)"],
            now=now,
            file_name=file_name or _name_of(source),
            elapsed=(time.perf_counter() - started) * 1000,
        )

    def _verify_source(
        self, source: PdfSource, now: datetime | None, file_name: str | None
    ) -> VerificationReport:
        started = time.perf_counter()
        name = file_name or _name_of(source)
        try:
            if isinstance(source, (bytes, bytearray, memoryview)):
                data = bytes(source)
                facts = _Facts(len(data), hashlib.sha256(data).hexdigest(), _SIG_MARK in data)
                return self._verify_stream(io.BytesIO(data), facts, now, name, started)
            # Only reading the source is an I/O problem ("unreadable"); an OSError raised
            # later comes from the document (a negative offset makes seek() fail with
            # EINVAL) and is judged like any other failure of the analysis.
            if isinstance(source, (str, os.PathLike)):
                try:
                    fh = open(source, "rb")  # noqa: SIM115 (closed below)
                except OSError as e:
                    return self._cannot_read(e, now, name)
                with fh:
                    try:
                        facts = _scan(fh)
                    except OSError as e:
                        return self._cannot_read(e, now, name)
                    return self._verify_stream(fh, facts, now, name, started)
            try:
                facts = _scan(source)
            except OSError as e:
                return self._cannot_read(e, now, name)
            return self._verify_stream(source, facts, now, name, started)
        except Exception as e:  # fail closed: never let an exception out
            log.exception("verification failed unexpectedly")
            return self._bare(
                Verdict.INDETERMINATE,
                [f"internal error during verification: {_msg(e)}"],
                now,
                name,
            )

    def _cannot_read(
        self, e: OSError, now: datetime | None, name: str | None
    ) -> VerificationReport:
        return self._bare(Verdict.UNREADABLE, [f"the file cannot be read: {e}"], now, name)

    def _bare(
        self,
        verdict: Verdict,
        reasons: list[str],
        now: datetime | None,
        file_name: str | None,
        elapsed: float | None = None,
        facts: _Facts | None = None,
    ) -> VerificationReport:
        return VerificationReport(
            verdict=verdict,
            reasons=tuple(reasons),
            file_name=file_name,
            verified_at=_iso(now or _now()),
            trust_anchors=self.contexts.anchor_names,
            fetching_allowed=self.contexts.allow_fetching,
            elapsed_ms=elapsed,
            file_size=facts.size if facts else None,
            sha256=facts.sha256 if facts else None,
        )

    # ------------------------------------------------------------------ document

    def _verify_stream(
        self,
        stream: IO[bytes],
        facts: _Facts,
        now: datetime | None,
        name: str | None,
        started: float,
    ) -> VerificationReport:
        explicit_now = now is not None
        now = now or _now()
        size, digest = facts.size, facts.sha256
        try:
            s = self._open(stream)
        except PdfOverBudget as e:
            return self._bare(
                Verdict.INDETERMINATE,
                [f"not verified: {e.detail}"],
                now,
                name,
                elapsed=(time.perf_counter() - started) * 1000,
                facts=facts,
            )
        except Unreadable as e:
            return self._bare(
                Verdict.UNREADABLE,
                [f"not a readable PDF: {e}"],
                now,
                name,
                elapsed=(time.perf_counter() - started) * 1000,
                facts=facts,
            )
        doc = _Doc(
            s=s,
            stream=stream,
            size=size,
            now=now,
            explicit_now=explicit_now,
            pool=RevinfoPool(),
            mentions_signature=facts.mentions_signature,
        )
        report = asyncio.run(self.document.analyse(doc))
        return replace(
            report,
            file_name=name,
            file_size=size,
            sha256=digest,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    def _open(self, stream: IO[bytes]) -> Structure:
        try:
            reader = structure.open_reader(stream, strict=True)
            self._check_budget(reader)
            return structure.inspect(reader, strict=True, strict_error=None)
        except PdfOverBudget:
            raise
        except PdfStrictReadError as e:
            strict_error = _msg(e)
        except Unreadable:
            raise
        except RecursionError as e:
            raise Unreadable("the file is nested too deeply") from e
        except Exception as e:
            strict_error = _msg(e)
        try:
            reader = structure.open_reader(stream, strict=False)
            self._check_budget(reader)
            return structure.inspect(reader, strict=False, strict_error=strict_error)
        except (Unreadable, PdfOverBudget):
            raise
        except RecursionError as e:
            raise Unreadable("the file is nested too deeply") from e
        except Exception as e:
            raise Unreadable(_msg(e)) from e

    def _check_budget(self, reader: object) -> None:
        if self.max_revisions is None and self.max_objects is None:
            return
        check_structure(
            reader,
            max_revisions=self.max_revisions if self.max_revisions is not None else 1 << 62,
            max_objects=self.max_objects if self.max_objects is not None else 1 << 62,
        )


def verify_pdf(
    stream_or_path: PdfSource,
    *,
    trust_roots: Iterable[CertSource],
    allow_fetching: bool,
    other_certs: Iterable[CertSource] = (),
    now: datetime | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> VerificationReport:
    """One-shot verification. For many documents build a :class:`Verifier` once."""
    verifier = Verifier(
        trust_roots, other_certs=other_certs, allow_fetching=allow_fetching, timeout=timeout
    )
    return verifier.verify(stream_or_path, now=now)
