"""Everything ingest's views use, built once by ``create_app``; views read it with
``current(IngestContext)``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.common.db import Database
from services.common.storage import ObjectStore
from services.ingest.apikeys import ApiKeys
from services.ingest.edxml.signatures import XmlSignatures
from services.ingest.ports import RoutingPort
from services.ingest.registry import KnownAgencies
from services.ingest.settings import IngestSettings
from services.ingest.webhooks.rules import SecretBox
from services.ingest.webhooks.worker import WebhookWorker


@dataclass(frozen=True)
class IngestContext:
    settings: IngestSettings
    db: Database
    store: ObjectStore
    routing: RoutingPort
    api_keys: ApiKeys
    known_agencies: KnownAgencies
    webhook_box: SecretBox
    webhooks: WebhookWorker  # sends the pushes the projections queue, after they commit
    spool_dir: Path  # uploads are written here while they are hashed and checked
    xml_signatures: XmlSignatures  # the signing service's XML-DSig API (edXML packages)
