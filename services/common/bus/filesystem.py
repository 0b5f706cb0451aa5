"""kombu's filesystem transport with atomic message files (the embedded bus).

kombu creates a message file under its final name and then writes it. A consumer
in another process that lists the folder in between takes the empty file, fails to
decode it and deletes it: the message is lost. Here the message is written under a
name no consumer looks at and renamed into place, which POSIX makes atomic.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu's own base classes disagree on this signature; this one matches theirs here.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Starts with "." and ends with ".tmp": never matches "<anything>.<queue>.msg".
        partial = os.path.join(self.data_folder_out, f".{uuid.uuid4()}.tmp")
        try:
            with open(partial, "wb") as f:
                f.write(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
