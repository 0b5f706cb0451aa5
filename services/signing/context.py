"""What the signing service's views and commands use, built once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.common.db import Database
from services.common.storage import ObjectStore
from services.signing.pki.service import PkiService
from services.signing.settings import SigningSettings
from services.signing.signing_service import SigningService
from services.signing.verifier import PdfVerifier


@dataclass(frozen=True)
class SigningContext:
    settings: SigningSettings
    db: Database
    store: ObjectStore
    pki: PkiService
    verifier: PdfVerifier  # for uploaded files: isolated in a worker process
    spool_dir: Path  # where uploads and stored files are copied while they are read
    signing: SigningService
