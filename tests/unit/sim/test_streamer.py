"""The async quote streamer and the asyncio scheduler."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from broker.sim import AsyncioScheduler, QuoteStreamer, SimVenue, VenueQuoteEvent
from broker.sim import scheduler as scheduler_module


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


class _Loop:
    """Records the delays the scheduler asks of the loop."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def call_later(self, delay: float, callback: object) -> _Loop:
        self.delays.append(delay)
        return self

    def cancel(self) -> None:
        return None


def test_a_faster_clock_runs_from_its_start_and_schedules_in_its_own_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(scheduler_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    start = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    loop = _Loop()
    scheduler = AsyncioScheduler(loop, start=start, speed=10.0)  # type: ignore[arg-type]
    real_time = AsyncioScheduler(loop, start=start)  # type: ignore[arg-type]
    now[0] += 0.5
    assert scheduler.now() == start + timedelta(seconds=5)
    assert real_time.now() == start + timedelta(seconds=0.5)
    scheduler.call_later(5.0, lambda: None)
    real_time.call_later(5.0, lambda: None)
    assert loop.delays == [0.5, 5.0]


def test_only_a_clock_with_a_start_runs_faster() -> None:
    with pytest.raises(ValueError, match="speed"):
        AsyncioScheduler(speed=10.0)
    with pytest.raises(ValueError, match="speed"):
        AsyncioScheduler(start=datetime(2026, 11, 24, tzinfo=UTC), speed=0.0)
