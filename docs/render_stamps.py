"""Render each Decree 30 signature profile to PNG under docs/stamps/.

Run: .venv/bin/python docs/render_stamps.py   (needs poppler's pdftoppm)
Signs a Vietnamese official letter through the signing service's own code path,
with a throwaway PKI and the demo seal and signature images.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "stamps"
AGENCY, AGENCY_NAME, LEADER = "000.00.00.H41", "UBND tỉnh Nghệ An", "Nguyễn Văn An"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LIENTHONG_DATA_DIR"] = tmp
        os.environ["LIENTHONG_BROKER_URL"] = "memory://"
        from services.common.wiring import context_of, migrate
        from services.signing.app import create_app
        from services.signing.appearance import Profile
        from services.signing.context import SigningContext
        from services.signing.images import draw_seal, draw_signature
        from services.signing.pades import Level
        from services.signing.pki.ca import init_pki
        from services.signing.pki.issuing import issue
        from services.signing.settings import SigningSettings
        from services.signing.signing_service import SignOptions
        from testkit.official_doc import official_letter

        settings = SigningSettings.from_env()
        migrate("signing", settings.database_url)
        init_pki(settings)
        context = context_of(create_app(settings), SigningContext)
        issue(context.db, settings, agency=AGENCY, kind="organization", name=AGENCY_NAME)
        issue(
            context.db,
            settings,
            agency=AGENCY,
            kind="personal",
            name=LEADER,
            organization=AGENCY_NAME,
            title="Chủ tịch",
        )
        signing = context.signing
        signing.register_image(AGENCY, "seal", draw_seal(AGENCY_NAME, AGENCY))
        signing.register_image(AGENCY, "signature", draw_signature(LEADER), LEADER)

        work = Path(tmp)
        letter = work / "letter.pdf"
        letter.write_bytes(official_letter())
        steps = [
            ("personal", letter, Profile.PERSONAL),
            ("organization", work / "personal.pdf", Profile.ORGANIZATION),
            ("copy", letter, Profile.COPY),
            ("attachment", letter, Profile.ATTACHMENT),
        ]
        OUT.mkdir(parents=True, exist_ok=True)
        for name, source, profile in steps:
            target = work / f"{name}.pdf"
            with target.open("wb") as out:
                signing.sign_file(
                    source,
                    out,
                    SignOptions(
                        profile,
                        Level.B_LT,
                        AGENCY,
                        person=LEADER,
                        document_code="15/UBND-VP" if profile is Profile.ATTACHMENT else None,
                    ),
                )
            subprocess.run(
                ["pdftoppm", "-png", "-r", "100", "-singlefile", str(target), str(OUT / name)],
                check=True,
            )
            print(f"docs/stamps/{name}.png")


if __name__ == "__main__":
    main()
