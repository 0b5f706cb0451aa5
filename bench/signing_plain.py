"""Plain pyHanko, the baseline of ``bench/signing.py``, in a process of its own.

    python -m bench.signing_plain      (started by bench/signing.py, not by hand)

Reads one JSON task per line on stdin and answers one JSON line per task on stdout.
It imports pyHanko and nothing of Liên Thông: importing the service changes pyHanko in
place (``services.signing.verification.fastparse`` swaps pyHanko's hex-string reader),
and a baseline measured in that process would not be plain pyHanko. Every task checks
that no ``services`` module was loaded.

Tasks (each is one measuring round; the caller interleaves them with its own rounds):

* ``sign_load``: per signature ``SimpleSigner.load`` (encrypted PKCS#8 PEM key, the
  certificate, the CA chain) and ``signers.sign_pdf``, invisible PAdES B-B;
* ``sign_once``: the same with the ``SimpleSigner`` loaded once, before timing;
* ``stamp``: a visible B-B signature with a ``TextStampStyle`` (seal PNG as its
  ``PdfImage`` background, text in ``GlyphAccumulatorFactory`` on the TrueType font),
  the style and the signer built once, into a new field at a given box;
* ``verify``: ``validate_pdf_signature`` on every embedded signature, one
  ``ValidationContext`` per document (the trust root, ``allow_fetching=False``).
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

VIETNAM = timezone(timedelta(hours=7))


def run_for(action: Callable[[], object], min_n: int, min_seconds: float) -> tuple[int, float]:
    """Call ``action`` until it ran at least ``min_n`` times and ``min_seconds`` passed.

    Returns (calls, seconds). Shared with bench/signing.py, so both sides of every
    comparison are timed by the same loop.
    """
    n = 0
    started = time.perf_counter()
    while True:
        action()
        n += 1
        elapsed = time.perf_counter() - started
        if n >= min_n and elapsed >= min_seconds:
            return n, elapsed


def _metadata(field_name: str) -> Any:
    from pyhanko.sign import fields, signers

    return signers.PdfSignatureMetadata(
        field_name=field_name, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )


def _load(task: dict[str, Any]) -> Any:
    from pyhanko.sign import signers

    signer = signers.SimpleSigner.load(
        task["key"],
        task["cert"],
        ca_chain_files=[task["chain"]],
        key_passphrase=task["passphrase"].encode(),
    )
    if signer is None:
        raise RuntimeError("SimpleSigner.load could not open the key")
    return signer


def _sign_invisible(pdf: bytes, signer: Any) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)),
        _metadata("Signature1"),
        signer=signer,
        output=out,
    )
    return out.getvalue()


def _stamper(task: dict[str, Any]) -> Callable[[bytes], bytes]:
    from PIL import Image

    try:
        from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    except ImportError as e:
        raise RuntimeError(
            f"{e}: install pyHanko's extras, pip install 'pyHanko[opentype,image-support]'"
        ) from e
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import TextStampStyle

    signer = _load(task)
    style = TextStampStyle(
        stamp_text="%(organization)s\n%(when)s",
        text_box_style=TextBoxStyle(
            font=GlyphAccumulatorFactory(task["font"], font_size=7), font_size=7
        ),
        background=PdfImage(Image.open(task["seal"])),
        background_opacity=1,
        border_width=0,
    )
    spec = fields.SigFieldSpec(task["field"], on_page=task["page"], box=tuple(task["box"]))

    def stamp(pdf: bytes) -> bytes:
        out = io.BytesIO()
        signers.PdfSigner(
            _metadata(task["field"]), signer=signer, stamp_style=style, new_field_spec=spec
        ).sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)),
            output=out,
            appearance_text_params={
                "organization": task["organization"],
                "when": datetime.now(VIETNAM).replace(microsecond=0).isoformat(),
            },
        )
        return out.getvalue()

    return stamp


def _verifier(task: dict[str, Any]) -> Callable[[bytes], bool]:
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    data = Path(task["root"]).read_bytes()
    if pem.detect(data):
        data = pem.unarmor(data)[2]
    root = x509.Certificate.load(data)

    def verify(pdf: bytes) -> bool:
        reader = PdfFileReader(io.BytesIO(pdf))
        context = ValidationContext(trust_roots=[root], allow_fetching=False)
        found = reader.embedded_signatures
        return bool(found) and all(
            validate_pdf_signature(sig, context).bottom_line for sig in found
        )

    return verify


def _action(task: dict[str, Any], pdf: bytes) -> Callable[[], object]:
    kind = task["task"]
    if kind == "sign_load":
        return lambda: _sign_invisible(pdf, _load(task))
    if kind == "sign_once":
        signer = _load(task)
        return lambda: _sign_invisible(pdf, signer)
    if kind == "stamp":
        stamp = _stamper(task)
        return lambda: stamp(pdf)
    if kind == "verify":
        verify = _verifier(task)
        if not verify(pdf):
            raise RuntimeError("plain pyHanko does not find the document's signatures valid")
        return lambda: verify(pdf)
    raise ValueError(f"unknown task {kind!r}")


def _run(task: dict[str, Any]) -> dict[str, Any]:
    pdf = Path(task["pdf"]).read_bytes()
    action = _action(task, pdf)
    sample: object = None
    for _ in range(task.get("warmup", 2)):
        sample = action()
    n, seconds = run_for(action, task["min_n"], task["min_seconds"])
    if isinstance(sample, bytes) and task.get("sample"):
        Path(task["sample"]).write_bytes(sample)
    return {"n": n, "seconds": seconds}


def main() -> int:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = _run(json.loads(line))
            leaked = sorted(m for m in sys.modules if m == "services" or m.startswith("services."))
            if leaked:
                raise RuntimeError(f"the plain baseline imported Liên Thông: {leaked[:3]}")
        except Exception as e:
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
