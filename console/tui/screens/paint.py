"""Painting an order's change at once: the frame is drawn now, not at the next 60 Hz tick."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget

MIN_FRAME_GAP_S = 1 / 60
"""Frames painted at once are at least this far apart (Textual's own frame rate): a burst of
order events never paints more often than the screen's update timer would."""
HOLD_S = 0.25
"""A queued `PaintNow` holds the screen's timer ticks at most this long (should the screen
never handle it, the timer draws again)."""


def _refresh_pending(widget: Widget) -> bool:
    """The widget asked for a repaint, layout, scroll or style refresh not yet sent."""
    return bool(
        widget._repaint_required
        or widget._layout_required
        or widget._scroll_required
        or widget._refresh_styles_required
    )


@dataclass
class PaintNow(Message):
    """A screen to itself, queued behind its widgets' refresh requests: draw the frame now."""


class FramePainter:
    """Draws a screen's next frame as soon as the refreshes already asked for have reached it.

    Textual repaints in three hops: a changed widget tells the screen when the widget next goes
    idle, the screen then resumes its update timer, and the timer draws on its next 1/60 s
    tick (a frame that falls between the first two hops misses the change). `request` sends
    the widgets' pending refreshes to the screen now and queues `PaintNow` behind them; the
    screen's handler then calls `paint`, which draws exactly what the timer would have drawn
    (layout first when one is needed). Until then the screen skips its timer's ticks
    (`holds_tick`): one would draw the change half done (a table's new rows before the layout
    that makes room for them), then PaintNow would draw it again. Textual has no public call
    for this: it uses the screen's update-timer callback."""

    def __init__(self, screen: Screen[Any]) -> None:
        self.screen = screen
        self.requested = 0
        """Frames asked for (an order event on screen)."""
        self.painted = 0
        """Frames drawn at once."""
        self._last_request = float("-inf")
        self._queued_at: float | None = None
        self._after: list[Callable[[], object]] = []
        """What waits for the asked-for frame to be drawn (`request(then=...)`)."""
        self._deferred: Timer | None = None

    def request(self, then: Callable[[], object] | None = None) -> bool:
        """Ask for the frame now; `then` runs once it is drawn. True when the frame was asked
        for now; False when one is queued already (`then` waits for it), or when the last was
        asked for within MIN_FRAME_GAP_S: this one is then asked for when that gap ends."""
        if then is not None and then not in self._after:
            self._after.append(then)
        now = time.monotonic()
        if self.holds_tick():
            return False
        gap = self._last_request + MIN_FRAME_GAP_S - now
        if gap > 0:
            if self._deferred is None:
                self._deferred = self.screen.set_timer(gap, self._request_deferred)
            return False
        self._last_request = self._queued_at = now
        self.requested += 1
        self.screen._update_timer.pause()
        for widget in self.screen.walk_children(Widget):
            if _refresh_pending(widget):  # (checking each one finds its screen: 10 µs)
                widget._check_refresh()  # post the widget's Update / Layout to the screen now
        self.screen.post_message(PaintNow())
        return True

    def _request_deferred(self) -> None:
        self._deferred = None
        self.request()

    def holds_tick(self) -> bool:
        """A `PaintNow` is queued: the screen's timer tick waits for it."""
        return self._queued_at is not None and time.monotonic() - self._queued_at < HOLD_S

    def paint(self) -> None:
        """Draw the frame (the screen's update-timer callback), if the screen is on top."""
        self._queued_at = None
        if self.screen.is_current:
            self.painted += 1
            self.screen._on_timer_update()
        else:  # under another screen: the screen's own update path draws it when shown
            self.screen.check_idle()
        after, self._after = self._after, []
        for callback in after:
            callback()
