"""Everything the web app's views use, built once by ``create_app``; views read it
with ``current(WebContext)``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.support import NullTranslations

from services.common.db import Database
from services.common.storage import ObjectStore
from services.web.batches import BatchRunner
from services.web.clients import IngestClient, MetricsClient, SigningClient
from services.web.pages import PageRenderer
from services.web.security import LoginPolicy
from services.web.settings import WebSettings


@dataclass(frozen=True)
class WebContext:
    settings: WebSettings
    db: Database
    store: ObjectStore  # draft PDFs and their signed versions, by SHA-256
    ingest: IngestClient  # acting for the user's agency
    signing: SigningClient
    pages: PageRenderer
    catalogs: dict[str, NullTranslations]
    policy: LoginPolicy
    batches: BatchRunner
    spool_dir: Path
    reports_dir: Path  # verification reports, kept for download
    metrics: MetricsClient  # the e-share figures, acting for a monitor's agency
