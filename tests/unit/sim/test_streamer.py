"""The async quote streamer and the asyncio scheduler."""

from __future__ import annotations

import asyncio

from broker.sim import AsyncioScheduler, QuoteStreamer, SimVenue, VenueQuoteEvent


async def test_streamer_steps_every_symbol_until_stopped() -> None:
    """Quotes flow round-robin over every symbol (the rate is measured by tests/bench)."""
    venue = SimVenue(1, scheduler=AsyncioScheduler())
    seen: list[VenueQuoteEvent] = []
    venue.subscribe(lambda e: seen.append(e) if isinstance(e, VenueQuoteEvent) else None)
    streamer = QuoteStreamer(venue, rate=1000)
    streamer.start()
    loop = asyncio.get_running_loop()
    start = loop.time()
    while len(seen) < 300:
        await asyncio.sleep(0.01)
        assert loop.time() - start < 10.0, f"only {len(seen)} quotes"
    await streamer.stop()
    assert {e.quote.symbol for e in seen} == {s.symbol for s in venue.symbols()}
    count = len(seen)
    await asyncio.sleep(0.05)
    assert len(seen) == count  # stopped means stopped


async def test_asyncio_scheduler_runs_callbacks_later() -> None:
    scheduler = AsyncioScheduler()
    fired = asyncio.Event()
    scheduler.call_later(0.01, fired.set)
    assert not fired.is_set()
    await asyncio.wait_for(fired.wait(), 1.0)
    assert scheduler.now().tzinfo is not None
