"""What may change in a document after it was signed.

DESIGN.md (Signatures) allows, after a signature: further signatures, seals (which are
signatures), validation data (the DSS) and document time-stamps. ISO 32000-2 (12.8.2)
allows more, and real documents use it: comments added later, form fields filled in a
certified form, a structure tree added for accessibility. Those are reported, change by
change, and accepted when the signature's permissions allow them and a reader does not
see them; everything else fails. EU DSS judges the same documents the same way ("valid,
with a warning").

pyHanko's difference analysis (``StandardDiffPolicy`` plus the rules of
:mod:`.changes`) classifies the changes that follow a signed revision into levels:

``NONE``          no change at all;
``LTA_UPDATES``   DSS updates, document time-stamps, invisible new signature fields,
                  metadata (/Info, XMP) and xref/object-stream bookkeeping;
``FORM_FILLING``  everything above, plus: filling signature fields, creating visible
                  signature fields, filling or re-drawing other form fields, adding a
                  structure tree or named destinations;
``ANNOTATIONS``   annotations added or edited;
``OTHER``         anything the rules cannot explain (``SuspiciousModification``).

Decision, per signature:

* ``NONE`` and ``LTA_UPDATES`` are accepted;
* a DocMDP certification (P=1 no change, P=2 form filling and signing, P=3 also
  annotations) or a FieldMDP lock that the changes exceed makes the signature
  ``invalid`` (pyHanko's ``docmdp_ok`` and its lock check);
* a form field created after signing that is not a signature field is ``invalid``
  (a new widget can draw anything over the page); filling a field that already existed
  is allowed, with a note, unless the permissions above forbid it. A signature field
  filled later holds a signature that is verified on its own;
* an annotation that paints over the page (anything but comments, highlights and links,
  unless hidden) is ``invalid`` whatever the permissions: it changes what a reader sees
  (the "evil annotation" attack); comments are allowed, with a note;
* ``OTHER`` (any ``SuspiciousModification``) is ``invalid``: the shadow and incremental
  saving attacks end here;
* one more check pyHanko does not make: turning ``/NeedAppearances`` on in the form
  after signing tells viewers to re-draw every field from its value, which can replace
  the signed appearances (a "shadow" change), so it is ``invalid`` too;
* a signature whose byte range does not cover its whole revision (pyHanko's
  ``CONTIGUOUS_BLOCK_FROM_START`` or ``UNCLEAR``) is ``invalid`` whatever follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation.status import SignatureCoverageLevel

from services.signing.verification.changes import Change, ChangeKind
from services.signing.verification.model import ChangeInfo


@dataclass
class ModificationJudgement:
    ok: bool
    level: str | None = None
    suspicious: str | None = None
    changed_fields: tuple[str, ...] = ()
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changes: list[ChangeInfo] = field(default_factory=list)


def judge(
    *,
    coverage: SignatureCoverageLevel | None,
    diff_result: DiffResult | SuspiciousModification | None,
    docmdp_ok: bool | None,
    signed_signature_fields: set[str],
    need_appearances_turned_on: bool,
    changes: Sequence[Change] = (),
    fields_before: set[str] | None = None,
    permission: MDPPerm | None = None,
) -> ModificationJudgement:
    """``permission``: the DocMDP (or field lock) level this signature grants; ``None``
    for an approval signature that grants nothing explicitly."""
    if coverage is None:
        return ModificationJudgement(False, reasons=["the signature coverage was not determined"])
    if coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return ModificationJudgement(
            False,
            level=ModificationLevel.OTHER.name,
            reasons=[
                "the signed byte range does not cover the whole revision it belongs to "
                f"(non-standard coverage: {coverage.name})"
            ],
        )
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return ModificationJudgement(True, level=ModificationLevel.NONE.name)
    if diff_result is None:
        return ModificationJudgement(False, reasons=["changes after signing were not analysed"])
    if isinstance(diff_result, SuspiciousModification):
        text = _first_line(str(diff_result))
        return ModificationJudgement(
            False,
            level=ModificationLevel.OTHER.name,
            suspicious=text,
            reasons=[f"the document was modified after signing in a disallowed way: {text}"],
            changes=[_info(c, allowed=False) for c in changes],
        )
    level = diff_result.modification_level
    # Plain str: pyHanko hands back its own string objects, which a worker cannot pickle.
    changed = tuple(sorted(str(name) for name in diff_result.changed_form_fields))
    j = ModificationJudgement(True, level=level.name, changed_fields=changed)
    permitted = docmdp_ok is not False
    for c in changes:
        allowed = permitted and c.problem is None
        j.changes.append(_info(c, allowed=allowed))
        if c.problem is not None:
            j.ok = False
            j.reasons.append(f"{c.detail} after signing (revision {c.revision}): {c.problem}")
        elif allowed and c.kind not in (ChangeKind.VALIDATION_DATA, ChangeKind.METADATA):
            j.notes.append(f"changed after signing, as permitted: {c.detail}")
    existing = fields_before if fields_before is not None else set()
    for name in changed:
        if name in signed_signature_fields:
            j.changes.append(ChangeInfo(None, ChangeKind.SIGNATURE, f"{name} signed", permitted))
            continue
        if name in existing:
            # A filled field shows a new value: only an explicit permission allows it.
            granted = permitted and permission in (MDPPerm.FILL_FORMS, MDPPerm.ANNOTATE)
            j.changes.append(ChangeInfo(None, ChangeKind.FORM_FIELD, f"{name} filled", granted))
            if granted:
                j.notes.append(f"the form field {name} was filled in after signing, as permitted")
            else:
                j.ok = False
                j.reasons.append(
                    f"the form field {name} was filled in after signing without a "
                    "certification that permits form filling"
                )
            continue
        j.changes.append(ChangeInfo(None, ChangeKind.FORM_FIELD, f"{name} added", False))
        j.ok = False
        j.reasons.append(f"a form field that holds no signature was added after signing: {name}")
    if level == ModificationLevel.OTHER:
        j.ok = False
        j.reasons.append("the document was modified after signing in a way no rule explains")
    if docmdp_ok is False:
        j.ok = False
        j.reasons.append("the changes after signing exceed what the certification (DocMDP) permits")
    if need_appearances_turned_on:
        j.ok = False
        j.reasons.append(
            "/NeedAppearances was switched on after signing: viewers would re-draw the "
            "signed form fields"
        )
    return j


def _info(c: Change, *, allowed: bool) -> ChangeInfo:
    return ChangeInfo(c.revision, c.kind.value, c.detail, allowed)


def need_appearances(reader: PdfFileReader, revision: int | None) -> bool:
    """The /AcroForm /NeedAppearances flag in a revision (``None``: the final one)."""
    try:
        root = reader.root if revision is None else reader.get_historical_resolver(revision).root
        if "/AcroForm" not in root:
            return False
        form = root["/AcroForm"]
        if not isinstance(form, generic.DictionaryObject) or "/NeedAppearances" not in form:
            return False
        return bool(form["/NeedAppearances"])
    except Exception:
        return False


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0][:400] if text else "unexplained change"
