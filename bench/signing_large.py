"""The 20 MB document of bench/signing.py, signed and verified in a fresh process.

    python -m bench.signing_large CONFIG_JSON      (started by bench/signing.py)

The environment carries the LIENTHONG_* settings of the benchmark's PKI. The process
builds the signing service with ``create_app``, then, on files on disk: the personal
B-LT signature, the organization B-LT seal over it, and the verification of the result
with ``Verifier`` (our root only, no fetching). It prints one JSON object: per phase its
``time.perf_counter()`` bounds (the parent samples this process's RSS on the same
monotonic clock) and the kernel's high-water mark of its RSS (VmHWM) at the phase's end.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _max_rss() -> int:
    """This process's peak RSS so far, in bytes: VmHWM, the high-water mark of its own
    address space.

    Not ``getrusage().ru_maxrss``: Linux carries the pre-exec high-water mark over an
    exec, and subprocess starts children with vfork, so a child's ru_maxrss starts at
    its parent's RSS (the benchmark process, ~190 MB) and would hide the child's own.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str]) -> int:
    config: dict[str, Any] = json.loads(argv[0])
    began = time.perf_counter()
    from services.common.wiring import context_of, runtime_of
    from services.signing.app import create_app
    from services.signing.appearance import Profile
    from services.signing.context import SigningContext
    from services.signing.pades import Level
    from services.signing.settings import SigningSettings
    from services.signing.signing_service import SignOptions
    from services.signing.verification import Verifier

    app = create_app(SigningSettings.from_env())
    context = context_of(app, SigningContext)
    signing = context.signing
    verifier = Verifier(context.pki.trust_roots())
    phases: list[dict[str, Any]] = [
        {"name": "start-up", "start": began, "end": time.perf_counter(), "max_rss": _max_rss()}
    ]
    source = Path(config["input"])
    personal = Path(config["personal"])
    sealed = Path(config["organization"])
    agency, person = config["agency"], config["person"]

    def phase(name: str, action: Any) -> Any:
        start = time.perf_counter()
        result = action()
        phases.append(
            {"name": name, "start": start, "end": time.perf_counter(), "max_rss": _max_rss()}
        )
        return result

    def sign(src: Path, dst: Path, options: SignOptions) -> None:
        with dst.open("wb") as out:
            signing.sign_file(src, out, options)

    phase(
        "sign personal B-LT",
        lambda: sign(
            source, personal, SignOptions(Profile.PERSONAL, Level.B_LT, agency, person=person)
        ),
    )
    phase(
        "sign organization B-LT over it",
        lambda: sign(personal, sealed, SignOptions(Profile.ORGANIZATION, Level.B_LT, agency)),
    )
    report = phase("verify (2 signatures)", lambda: verifier.verify(sealed))
    for close in runtime_of(app).on_close:
        close()
    context.db.dispose()
    print(
        json.dumps(
            {
                "phases": phases,
                "verdict": report.verdict.value,
                "reasons": list(report.reasons),
                "signatures": len(report.signatures),
                "sizes": {
                    "input": source.stat().st_size,
                    "personal": personal.stat().st_size,
                    "organization": sealed.stat().st_size,
                },
                "max_rss": _max_rss(),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
