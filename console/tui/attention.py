"""What the trader has seen: the approve dwell clock and the bell for new or expiring trades."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine's models load with the engine, after the first frame
    from engine.view import PendingApproval

TOKEN_WARNING_S = 60.0
"""A pending trade's token under this many seconds rings the bell once."""


class Attention:
    """Tracks which trade's headline is on screen and since when, and which trades the bell
    has already announced. Pure bookkeeping on the monotonic clock; the app feeds it."""

    def __init__(self, dwell_s: float) -> None:
        self.dwell_s = dwell_s
        self._headline: tuple[str | None, float] = (None, 0.0)
        self._pending_seen: set[str] = set()
        self._tokens_warned: set[str] = set()

    def headline_shown(self, intent_id: str | None, now_mono: float) -> None:
        """The headline on screen now (None: none is). Restarts the dwell clock on a change."""
        if intent_id != self._headline[0]:
            self._headline = (intent_id, now_mono)

    def dwell_refusal(self, pending: PendingApproval, now_mono: float) -> str | None:
        """Why approving `pending` now is too soon (or it is not on screen), else None."""
        from console.tui.widgets.approvals import trade_text

        shown, since = self._headline
        if shown != pending.intent.intent_id:
            return f"{trade_text(pending)} is not on screen: show the Approvals panel (1)"
        if now_mono - since < self.dwell_s:
            return (
                f"{trade_text(pending)} on screen only {now_mono - since:.1f}s"
                f" (< {self.dwell_s:g}s): read it, then press again"
            )
        return None

    def bell_due(self, pending: Sequence[PendingApproval], now_mono: float) -> bool:
        """True once for each new pending trade and once when its token drops under 60 s."""
        ids = {p.intent.intent_id for p in pending}
        low = {
            p.intent.intent_id for p in pending if 0 < p.seconds_left(now_mono) < TOKEN_WARNING_S
        }
        due = bool(ids - self._pending_seen or low - self._tokens_warned)
        self._pending_seen = ids
        self._tokens_warned = (self._tokens_warned | low) & ids
        return due
