"""The agency registry and the agencies' API keys (used by the CLI and the connector)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from services.common.bus.messages import AgencyRegisteredV2
from services.common.bus.outbox import add_to_outbox
from services.common.bus.topology import EVENTS
from services.common.db import Database
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.ingest.apikeys import hash_api_key, new_api_key
from services.ingest.models import BUS, Agency, ApiKey
from services.ingest.times import now
from services.ingest.validation import check_agency_code, check_mailbox


@dataclass(frozen=True)
class RegisteredAgency:
    code: str
    name: str
    parent_code: str | None
    nonstandard_code: bool


def add_agency(
    db: Database, code: str, name: str, *, parent: str | None = None, email: str | None = None
) -> RegisteredAgency:
    checked = check_agency_code(code)
    email = check_mailbox(email)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("the agency name is blank")
    with db.unit_of_work() as session:
        if session.get(Agency, checked.code):
            raise Conflict(f"agency {checked.code} is already registered")
        if parent and not session.get(Agency, parent):
            raise ValidationFailed(f"parent agency {parent} is not registered")
        session.add(
            Agency(
                code=checked.code,
                name=name,
                parent_code=parent or None,
                nonstandard_code=not checked.standard,
                email=email,
                created_at=now(),
            )
        )
        add_to_outbox(
            session,
            BUS,
            AgencyRegisteredV2(
                code=checked.code,
                name=name,
                parent_code=parent or None,
                nonstandard_code=not checked.standard,
                email=email,
            ),
            exchange=EVENTS.name,
        )
    return RegisteredAgency(checked.code, name, parent or None, not checked.standard)


def list_agencies(db: Database) -> list[RegisteredAgency]:
    with db.reading() as session:
        rows = session.scalars(sa.select(Agency).order_by(Agency.code)).all()
        return [RegisteredAgency(a.code, a.name, a.parent_code, a.nonstandard_code) for a in rows]


def create_api_key(db: Database, code: str, label: str = "") -> str:
    key = new_api_key()
    with db.unit_of_work() as session:
        if not session.get(Agency, code):
            raise NotFound(f"agency {code} is not registered")
        session.add(
            ApiKey(agency_code=code, key_hash=hash_api_key(key), label=label, created_at=now())
        )
    return key


def revoke_api_keys(db: Database, code: str, label: str) -> int:
    with db.unit_of_work() as session:
        result = session.execute(
            sa.update(ApiKey)
            .where(ApiKey.agency_code == code, ApiKey.label == label, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ApiKeyRecord:
    id: int
    agency: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def list_api_keys(db: Database, code: str) -> list[ApiKeyRecord]:
    """An agency's keys (never the keys themselves: only their hashes are stored)."""
    with db.reading() as session:
        rows = session.scalars(
            sa.select(ApiKey).where(ApiKey.agency_code == code).order_by(ApiKey.id)
        ).all()
        return [
            ApiKeyRecord(k.id, k.agency_code, k.label, k.created_at, k.revoked_at) for k in rows
        ]


def revoke_api_key_ids(db: Database, code: str, ids: Iterable[int]) -> int:
    """Revoke the agency's keys with these ids (``keys list`` shows them)."""
    with db.unit_of_work() as session:
        result = session.execute(
            sa.update(ApiKey)
            .where(
                ApiKey.agency_code == code,
                ApiKey.id.in_(list(ids)),
                ApiKey.revoked_at.is_(None),
            )
            .values(revoked_at=now())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def revoke_api_key(db: Database, key: str) -> str | None:
    """Revoke one key, given the key itself; the agency it belonged to, or None."""
    with db.unit_of_work() as session:
        row = session.scalars(
            sa.select(ApiKey).where(
                ApiKey.key_hash == hash_api_key(key.strip()), ApiKey.revoked_at.is_(None)
            )
        ).first()
        if row is None:
            return None
        row.revoked_at = now()
        return row.agency_code
