"""What routing's views and workers share, built once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.db import Database
from services.routing.deadlines.mailer import MailWorker
from services.routing.deadlines.scanner import DeadlineScanner
from services.routing.receipts import ReceiptKeys
from services.routing.settings import RoutingSettings


@dataclass(frozen=True)
class RoutingContext:
    settings: RoutingSettings
    db: Database
    receipt_keys: ReceiptKeys
    deadline_scanner: DeadlineScanner
    mail_worker: MailWorker | None  # None: LIENTHONG_SMTP_URL is not set, no emails
