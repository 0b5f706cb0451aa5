"""Routing's consumer table: one entry per message type gives the handler, the queue
binding and what a batch locks or reads up front."""

from __future__ import annotations

from services.common.bus.messages import (
    AgencyRegistered,
    DeliveryArrived,
    DocumentReceived,
    DocumentVerified,
)
from services.routing import consumers


def test_the_queue_binds_exactly_the_handled_types_and_their_folds() -> None:
    handled = set(consumers.subscriptions().handlers)
    assert (
        handled
        == set(consumers.EVENT_TYPES)
        == {
            DocumentReceived,
            DeliveryArrived,
            AgencyRegistered,
            DocumentVerified,
        }
    )
    bindings = {b.routing_key for b in consumers.EVENTS_QUEUE.bindings}
    assert bindings == {
        "document.received",
        "delivery.arrived",
        "deliveries.arrived",
        "agency.registered",
        "document.verified",
        "documents.verified",
    }


def test_a_batch_is_prepared_by_the_consumer_table() -> None:
    assert consumers.subscriptions().before_batch is consumers.lock_for_batch
