"""Named crash points for the crash-recovery harness: `DESKGATE_CRASH_AT=name[:n]` SIGKILLs
the process the n-th time (default first) that point is reached. Inert when the variable is unset.
"""

from __future__ import annotations

import os
import signal

ENV = "DESKGATE_CRASH_AT"
POINTS = (
    "intent_recorded",
    "write_ahead_synced",
    "order_sent",
    "after_ack",
    "after_partial_fill",
    "after_fill",
    "before_fill_recorded",
)

_spec = os.environ.get(ENV, "")
_name, _, _count = _spec.partition(":")
_remaining = int(_count) if _count.isdigit() else 1
_armed = bool(_name)


def hit(name: str) -> None:
    """Die here, as `kill -9` would, if the harness armed this point."""
    global _remaining
    if not _armed or name != _name:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
