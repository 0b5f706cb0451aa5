"""The registry's tree from its parent links: levels below an agency, never a sibling
or a parent, and a cycle in the links cannot loop."""

from __future__ import annotations

from services.common.agency_tree import depths

#: A province with its departments, a commune and an office, beside a sibling province
#: (shared by the tests of the ranking and of the dashboard's agency picker).
PARENTS = {
    "P": None,  # the monitor's province
    "D1": "P",  # departments
    "D2": "P",
    "C1": "P",  # a commune, beside the departments
    "O1": "D1",  # an office of a department
    "Q": None,  # a sibling province
    "QD": "Q",
}


def test_levels_come_from_the_parent_links() -> None:
    assert depths(PARENTS, "P") == {"P": 0, "C1": 1, "D1": 1, "D2": 1, "O1": 2}
    assert depths(PARENTS, "D1") == {"D1": 0, "O1": 1}  # never a sibling or a parent
    assert depths({"A": "B", "B": "A"}, "A") == {"A": 0, "B": 1}  # a cycle cannot loop
