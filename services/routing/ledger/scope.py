"""Who may see which agency's figures: an agency sees itself and the agencies below
it in the registry (parent links, however many levels), never a sibling or a parent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.errors import Forbidden
from services.routing.models import Agency


def descendants(parents: Mapping[str, str | None], root: str) -> list[str]:
    """``root`` and every agency below it, root first then by code (pure; a cycle in
    the registry's links cannot loop)."""
    children: dict[str, list[str]] = {}
    for code, parent in parents.items():
        if parent is not None and parent != code:
            children.setdefault(parent, []).append(code)
    seen = {root}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return [root, *sorted(seen - {root})]


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


def agencies_in_scope(
    session: Session, viewer: str, agency: str, *, include_children: bool
) -> list[str]:
    """The agencies counted: ``agency`` (and those below it when asked), once the
    viewer is known to see it."""
    parents = registry(session)
    visible = descendants(parents, viewer)
    if agency not in visible:
        raise Forbidden(
            f"{viewer} sees its own figures and those of the agencies below it, not {agency}"
        )
    return descendants(parents, agency) if include_children else [agency]
