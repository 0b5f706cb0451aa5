"""The registry's agencies as a tree, from their parent links (pure): who is below whom,
and how many levels. Levels come from the links, not from a fixed list of tiers."""

from __future__ import annotations

from collections.abc import Mapping


def children_of(parents: Mapping[str, str | None]) -> dict[str, list[str]]:
    """Each agency's agencies right below it (an agency is never its own child)."""
    children: dict[str, list[str]] = {}
    for code, parent in parents.items():
        if parent is not None and parent != code:
            children.setdefault(parent, []).append(code)
    return children


def depths(parents: Mapping[str, str | None], root: str) -> dict[str, int]:
    """``root`` (0) and every agency below it with how many levels below it it is; a
    cycle in the links cannot loop."""
    children = children_of(parents)
    found = {root: 0}
    frontier = [root]
    while frontier:
        following: list[str] = []
        for code in frontier:
            for child in children.get(code, ()):
                if child not in found:
                    found[child] = found[code] + 1
                    following.append(child)
        frontier = following
    return found
