"""An agency's edXML policy: whether its packages must carry a valid XML-DSig signature."""

from __future__ import annotations

from services.common.db import Database
from services.common.errors import NotFound
from services.ingest.models import Agency


def signed_packages_required(db: Database, code: str) -> bool:
    with db.reading() as session:
        agency = session.get(Agency, code)
    if agency is None:
        raise NotFound(f"agency {code} is not registered")
    return bool(agency.require_signed_packages)


def require_signed_packages(db: Database, code: str, required: bool) -> bool:
    """Set the policy; the value now in force."""
    with db.unit_of_work() as session:
        agency = session.get(Agency, code)
        if agency is None:
            raise NotFound(f"agency {code} is not registered")
        agency.require_signed_packages = required
    return required
