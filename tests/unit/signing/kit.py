"""The signing service's own parts (PKI, PAdES engine, signing service) on a PKI made in a
temporary directory, for the tests of what the service signs; and that PKI's
endpoints served on a real port, for clients that fetch CRLs and OCSP answers.

Shared by tests/unit/signing (fixtures in its conftest.py) and the integration and
end-to-end tests named test_signing_*.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, request
from werkzeug.serving import make_server

from services.common.db import Database
from services.common.storage import ObjectStore, open_store
from services.common.wiring import Runtime, new_flask_app
from services.signing.appearance import Profile
from services.signing.images import draw_seal, draw_signature
from services.signing.keysource import PkiKeySource
from services.signing.models import Base
from services.signing.pades import Level, PadesEngine
from services.signing.pki import models as _models  # noqa: F401 - registers the table
from services.signing.pki.api import blueprint as pki_blueprint
from services.signing.pki.ca import init_pki
from services.signing.pki.service import PkiService, build_pki_service
from services.signing.settings import SigningSettings
from services.signing.signing_service import SignedFile, SigningService, SignOptions
from testkit.infra import unavailable
from testkit.official_doc import official_letter

if TYPE_CHECKING:  # imported when used: the PKI tests load this module too
    from services.signing.verification import Verifier

PASSPHRASE = "a test passphrase, long enough"
PUBLIC_URL = "http://pki.test:8002"
AGENCY = "000.00.00.H41"
AGENCY_NAME = "UBND tỉnh Nghệ An"

# What official_letter() prints: the issuing organization and its signer.
ORGANIZATION = "UỶ BAN NHÂN DÂN TỈNH NGHỆ AN"
LEADER = "Nguyễn Văn An"
LEADER_TITLE = "Chủ tịch"


def settings_for(data_dir: Path, pki_dir: Path, **extra: str) -> SigningSettings:
    env = {
        "LIENTHONG_DATA_DIR": str(data_dir),
        "LIENTHONG_PKI_DIR": str(pki_dir),
        "LIENTHONG_PKI_PASSPHRASE": PASSPHRASE,
        "LIENTHONG_SIGNING_PUBLIC_URL": PUBLIC_URL,
        **extra,
    }
    return SigningSettings.from_env(env)


@dataclass
class SigningKit:
    """What create_app wires for signing, minus Flask and the bus."""

    settings: SigningSettings
    db: Database
    pki: PkiService
    store: ObjectStore
    signing: SigningService
    workdir: Path
    _made: Iterator[int] = field(default_factory=itertools.count)

    @property
    def public_url(self) -> str:
        return self.settings.public_url

    @property
    def root_pem(self) -> Path:
        return self.pki.material.paths.cert("root")

    @property
    def chain_pem(self) -> Path:
        """The issuing CA and the root, PEM."""
        return self.pki.material.paths.chain

    def verifier(self, *, allow_fetching: bool = False) -> Verifier:
        """Our verifier trusting this PKI's root and nothing else."""
        from services.signing.verification import Verifier

        return Verifier([self.pki.material.root_cert], allow_fetching=allow_fetching)

    def letter(self) -> Path:
        """official_letter() as a file (the same bytes every time)."""
        path = self.workdir / "letter.pdf"
        if not path.exists():
            path.write_bytes(official_letter())
        return path

    def sign(
        self,
        source: Path,
        profile: Profile,
        level: Level = Level.B_LT,
        *,
        out: Path | None = None,
        agency: str = AGENCY,
        person: str | None = None,
        **options: object,
    ) -> tuple[Path, SignedFile]:
        """Sign ``source`` through SigningService.sign_file, as the CLI and API do."""
        if profile is Profile.PERSONAL and person is None:
            person = LEADER
        # a new file every time: tests sharing the kit never overwrite each other's
        number = next(self._made)
        target = out or self.workdir / f"{number:03d}-{profile.value}-{level.value}.pdf"
        opts = SignOptions(
            profile=profile,
            level=level,
            agency=agency,
            person=person,
            **options,  # type: ignore[arg-type]
        )
        with target.open("wb+") as output:
            result = self.signing.sign_file(source, output, opts)
        return target, result

    def close(self) -> None:
        self.db.dispose()


def provision(
    pki: PkiService,
    signing: SigningService,
    *,
    agency: str = AGENCY,
    organization: str = ORGANIZATION,
    leader: str = LEADER,
) -> None:
    """An organization certificate and seal, a leader's certificate and signature image."""
    pki.issue(agency=agency, kind="organization", name=organization)
    pki.issue(
        agency=agency, kind="personal", name=leader, organization=organization, title=LEADER_TITLE
    )
    signing.register_image(agency, "seal", draw_seal(organization, agency))
    signing.register_image(agency, "signature", draw_signature(leader), leader)


def build_kit(workdir: Path, public_url: str = PUBLIC_URL) -> SigningKit:
    """A new PKI (its certificates point at ``public_url``) with one provisioned agency."""
    from services.signing.verifier import LongTermValidation

    workdir.mkdir(parents=True, exist_ok=True)
    settings = settings_for(
        workdir / "data", workdir / "pki", LIENTHONG_SIGNING_PUBLIC_URL=public_url
    )
    init_pki(settings, root_key_size=2048, ca_key_size=2048)  # quicker to make; enough here
    db = Database(settings.database_url)
    Base.metadata.create_all(db.engine)
    pki = build_pki_service(settings, db)
    engine = PadesEngine(timestamper=pki.timestamper, validation_context=LongTermValidation(pki))
    store = open_store(settings.common.storage_url)
    signing = SigningService(
        db, store, engine, PkiKeySource(pki), settings.common.data_dir / "spool"
    )
    provision(pki, signing)
    return SigningKit(settings, db, pki, store, signing, workdir)


def pki_app(settings: SigningSettings, db: Database, pki: PkiService) -> Flask:
    """A Flask app serving only the /pki endpoints of ``pki``."""
    from services.signing.app import signing_context
    from services.signing.verifier import LazyVerifier

    verifier = LazyVerifier(settings, pki)  # built only if used
    app = new_flask_app(Runtime("signing", db), signing_context(settings, db, pki, verifier))
    app.register_blueprint(pki_blueprint)
    return app


def pdftotext(path: Path) -> str:
    """The text poppler reads on the pages, widget appearances included (NFC)."""
    if shutil.which("pdftotext") is None:
        unavailable("poppler's pdftotext")
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    return unicodedata.normalize("NFC", done.stdout.decode())


@dataclass
class PkiServer:
    base_url: str
    requests: list[str] = field(default_factory=list)  # "METHOD /path" of each request

    def asked(self, prefix: str) -> int:
        return sum(1 for r in self.requests if r.split(" ", 1)[1].startswith(prefix))


@contextmanager
def serving_pki(kit: SigningKit) -> Iterator[PkiServer]:
    """The kit's /pki endpoints (CRLs, OCSP, TSA) on the host and port of its public URL."""
    from urllib.parse import urlsplit

    where = urlsplit(kit.public_url)
    assert where.hostname and where.port, kit.public_url
    served = PkiServer(kit.public_url.rstrip("/"))
    app = pki_app(kit.settings, kit.db, kit.pki)

    @app.before_request
    def _record() -> None:
        served.requests.append(f"{request.method} {request.path}")

    server = make_server(where.hostname, where.port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
