"""What ingest needs from the other services, as Protocols: the real clients and the
fakes in tests are both checked against them."""

from __future__ import annotations

from typing import Protocol

from services.common.bus.messages import DeliveryStatusChanged
from services.common.internal_api import (
    EShareAnswer,
    EShareExchangePage,
    EShareOverduePage,
    EShareQuery,
    EShareRanking,
    OverdueListing,
    ReceiptAnswer,
    ReceiptKeyAnswer,
    StatusReport,
    TakeBackAnswer,
    TakeBackRequest,
    Timeline,
)


class RoutingPort(Protocol):
    """Routing's internal API: routing owns the status lifecycle and its records."""

    def report_status(self, delivery_id: str, report: StatusReport) -> DeliveryStatusChanged:
        """Record a status an agency reports; the change routing made (its event follows)."""
        ...

    def take_back(self, document: str, request: TakeBackRequest) -> TakeBackAnswer: ...

    def timeline(self, document: str) -> Timeline: ...

    def receipt(self, delivery_id: str) -> ReceiptAnswer: ...

    def receipt_key(self) -> ReceiptKeyAnswer: ...

    def overdue(self, agency: str) -> OverdueListing: ...

    def e_share(self, query: EShareQuery) -> EShareAnswer:
        """The e-document share figures (routing's ledger)."""
        ...

    def e_share_exchanges(
        self, query: EShareQuery, *, limit: int, after: str | None
    ) -> EShareExchangePage:
        """The exchanges behind the figures, with the reasons of each."""
        ...

    def e_share_overdue(
        self, query: EShareQuery, *, limit: int, count: bool = True
    ) -> EShareOverduePage:
        """Overdue work addressed to the agencies counted."""
        ...

    def e_share_ranking(self, query: EShareQuery, params: dict[str, str]) -> EShareRanking:
        """The agencies below one ranked, a page at a time, and the figures per level."""
        ...
