"""What may change in a document after it was signed.

DESIGN.md (Signatures) allows, after a signature: further signatures, seals (which are
signatures), validation data (the DSS) and document time-stamps. Nothing else.

pyHanko's difference analysis (``StandardDiffPolicy``) classifies the changes that
follow a signed revision into levels:

``NONE``          no change at all;
``LTA_UPDATES``   DSS updates, document time-stamps, invisible new signature fields,
                  metadata (/Info, XMP) and xref/object-stream bookkeeping;
``FORM_FILLING``  everything above, plus: filling signature fields (with an appearance),
                  creating *visible* signature fields, and filling or re-drawing
                  *non-signature* form fields (text boxes, check boxes, …);
``ANNOTATIONS``   annotation changes (comments, stamps, drawings);
``OTHER``         anything the whitelist cannot explain (``SuspiciousModification``).

``FORM_FILLING`` is therefore too coarse for us: filling a text field, or adding an
empty signature field whose appearance stream draws arbitrary content over the page,
changes what a reader sees, while signing another field is exactly what the policy
allows. Decision:

* ``NONE`` and ``LTA_UPDATES`` are accepted;
* ``FORM_FILLING`` is accepted only when every form field pyHanko reports as changed
  (``DiffResult.changed_form_fields``) is a signature field that holds a signature or a
  document time-stamp in the final revision. Each of those signatures is verified on its
  own, so an attacker's "seal" does not pass unnoticed: it is at best indeterminate
  (untrusted) and the document verdict follows the weakest signature. A changed
  non-signature field, or a new visible signature field left empty, makes the earlier
  signature ``invalid``;
* ``ANNOTATIONS`` and ``OTHER`` (and any ``SuspiciousModification``) are ``invalid``;
* a DocMDP (certification) or FieldMDP (lock) violation is ``invalid``;
* one more check pyHanko does not make: turning ``/NeedAppearances`` on in the form
  after signing. pyHanko exempts that key, but it tells viewers to re-draw every field
  from its value, which can replace the signed appearances (a "shadow" change), so it
  is ``invalid`` too;
* a signature whose byte range does not cover its whole revision (pyHanko's
  ``CONTIGUOUS_BLOCK_FROM_START`` or ``UNCLEAR``) is ``invalid`` whatever follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel, SuspiciousModification
from pyhanko.sign.validation.status import SignatureCoverageLevel

ACCEPTED_LEVELS = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)


@dataclass
class ModificationJudgement:
    ok: bool
    level: str | None = None
    suspicious: str | None = None
    changed_fields: tuple[str, ...] = ()
    reasons: list[str] = field(default_factory=list)


def judge(
    *,
    coverage: SignatureCoverageLevel | None,
    diff_result: DiffResult | SuspiciousModification | None,
    docmdp_ok: bool | None,
    signed_signature_fields: set[str],
    need_appearances_turned_on: bool,
) -> ModificationJudgement:
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
        )
    level = diff_result.modification_level
    # Plain str: pyHanko hands back its own string objects, which a worker cannot pickle.
    changed = tuple(sorted(str(name) for name in diff_result.changed_form_fields))
    j = ModificationJudgement(True, level=level.name, changed_fields=changed)
    if level in ACCEPTED_LEVELS:
        pass
    elif level == ModificationLevel.FORM_FILLING:
        others = [f for f in changed if f not in signed_signature_fields]
        if others:
            j.ok = False
            j.reasons.append(
                "form fields other than further signatures were changed or added after "
                f"signing: {', '.join(others)}"
            )
    else:
        j.ok = False
        j.reasons.append(
            f"the document was modified after signing (modification level {level.name}); "
            "only further signatures, validation data and document time-stamps are allowed"
        )
    if docmdp_ok is False:
        j.ok = False
        j.reasons.append("the changes after signing violate the certification (DocMDP) policy")
    if need_appearances_turned_on:
        j.ok = False
        j.reasons.append(
            "/NeedAppearances was switched on after signing: viewers would re-draw the "
            "signed form fields"
        )
    return j


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
