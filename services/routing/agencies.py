"""Routing's agency mirror: agency.registered v1 and v2 (v2 adds the official mailbox)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.common.bus.messages import AgencyRegistered, AgencyRegisteredV2, Envelope
from services.routing import handlers
from services.routing.models import Agency
from services.routing.notify import usable_address


def on_agency_registered(session: Session, msg: AgencyRegistered, envelope: Envelope) -> None:
    """Both versions (the bus consumer keys handlers by type, not version). v1 leaves a
    known mailbox alone: an older emitter knows nothing about it. v2 sets or clears it."""
    handlers.on_agency_registered(session, msg, envelope)
    if isinstance(msg, AgencyRegisteredV2):
        agency = session.get(Agency, msg.code)
        if agency is not None:
            agency.email = usable_address(msg.email)
