"""Who may see which agency's figures: an agency sees itself and the agencies below
it in the registry (parent links, however many levels), never a sibling or a parent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from services.common.agency_tree import depths
from services.common.errors import Forbidden
from services.routing.models import Agency


def descendants(parents: Mapping[str, str | None], root: str) -> list[str]:
    """``root`` and every agency below it, root first then by code (pure; a cycle in
    the registry's links cannot loop)."""
    return [root, *sorted(set(depths(parents, root)) - {root})]


def registry(session: Session) -> dict[str, str | None]:
    return {
        code: parent for code, parent in session.execute(sa.select(Agency.code, Agency.parent_code))
    }


def names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = list(codes)
    found: dict[str, str] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        query = sa.select(Agency.code, Agency.name).where(Agency.code.in_(chunk))
        found.update((code, name) for code, name in session.execute(query))
    return found


def _check_visible(parents: Mapping[str, str | None], viewer: str, agency: str) -> None:
    if agency not in descendants(parents, viewer):
        raise Forbidden(
            f"{viewer} sees its own figures and those of the agencies below it, not {agency}"
        )


def agencies_in_scope(
    session: Session, viewer: str, agency: str, *, include_children: bool
) -> list[str]:
    """The agencies counted: ``agency`` (and those below it when asked), once the
    viewer is known to see it."""
    parents = registry(session)
    _check_visible(parents, viewer, agency)
    return descendants(parents, agency) if include_children else [agency]


@dataclass(frozen=True)
class Scope:
    codes: list[str]  # as ``agencies_in_scope`` gives them
    names: dict[str, str]  # of those codes
    depth: dict[str, int]  # of those codes, below the agency asked for (itself 0)


def scope_with_names(
    session: Session, viewer: str, agency: str, *, include_children: bool
) -> Scope:
    """``agencies_in_scope`` and the names of the agencies counted, from one read of
    the registry."""
    parents: dict[str, str | None] = {}
    all_names: dict[str, str] = {}
    for code, parent, name in session.execute(
        sa.select(Agency.code, Agency.parent_code, Agency.name)
    ):
        parents[code] = parent
        all_names[code] = name
    _check_visible(parents, viewer, agency)
    depth = depths(parents, agency) if include_children else {agency: 0}
    codes = [agency, *sorted(set(depth) - {agency})]  # as ``descendants`` orders them
    return Scope(codes, {c: all_names[c] for c in codes if c in all_names}, depth)


def in_codes(session: Session, column: Any, codes: list[str]) -> sa.ColumnElement[bool]:
    """``column IN codes``; on PostgreSQL one array parameter (``= ANY``) rather than
    one parameter per agency (a national office's 200), so that the statement is the
    same whatever the scope and is prepared once by the driver."""
    if session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.literal(codes, postgresql.ARRAY(sa.String)))
    return column.in_(codes)
