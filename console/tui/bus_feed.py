"""The engine's bus as the console's `EngineChanged` messages; price frames are held back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from console.tui.messages import QUOTE_ONLY_REASONS, EngineChanged, bus_reason

if TYPE_CHECKING:
    from engine.bus import Subscription

QUOTE_THROTTLE_S = 0.25
"""After a burst of price-only changes, wait this long before the next frame. IB streams the
quotes of stocks and futures as snapshots every 250 ms (TWS API, "Top Market Data"): drawing
prices faster shows nothing the venue sent, and each price frame (10-20 ms of rendering) is
time an approve's keystroke or its order's row may have to wait for."""
BUS_POLL_S = 0.005
"""While price frames are held back, how often the bus is checked for anything urgent. A poll,
not a wait for the next item: at 1,000 quotes/s a wait would wake the loop for every quote;
this wakes it 200 times a second and still shows an order within 5 ms."""


async def feed_changes(subscription: Subscription, post: Callable[[EngineChanged], object]) -> None:
    """Turn bus items into coalesced `EngineChanged` messages, forever.

    Price-only frames are held to one per QUOTE_THROTTLE_S after any post (each refresh shows
    the prices of its moment); anything else (an order, a fill, a kill) ends the hold and is
    posted within BUS_POLL_S. Without the hold after an order's post, the next quote (within a
    millisecond at 1,000/s) was posted at once: a second refresh of the whole screen queued
    ahead of the order's frame.
    """
    loop = asyncio.get_running_loop()
    queue = subscription.queue
    reasons: set[str] = set()
    while True:
        if not reasons:
            reasons.add(bus_reason(await subscription.get()))
        while not queue.empty():
            reasons.add(bus_reason(queue.get_nowait()))
        post(EngineChanged(frozenset(reasons)))
        reasons = set()
        hold_until = loop.time() + QUOTE_THROTTLE_S
        while loop.time() < hold_until:
            await asyncio.sleep(BUS_POLL_S)
            while not queue.empty():
                reasons.add(bus_reason(queue.get_nowait()))
            if reasons - QUOTE_ONLY_REASONS:
                break
