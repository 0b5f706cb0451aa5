"""Routing's own errors (the kernel's tree gives their HTTP status)."""

from __future__ import annotations

from services.common.errors import Conflict


class TransitionRejected(Conflict):
    """A status that may not follow the delivery's current one (409)."""

    code = "transition_rejected"
    title = "Status transition rejected"
