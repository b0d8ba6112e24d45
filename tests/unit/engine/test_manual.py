"""Engine side of the trader's ticket: close one position, the latency split, ticket lookups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.enums import OrderType, Side
from engine.clock import ManualClock
from tests.console.test_app_engine import Desk
from tests.support import approve_pending, eventually, make_intent

D = Decimal


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    desk = Desk(tmp_path, ManualClock())
    await desk.engine.start()
    yield desk
    await desk.engine.stop()


async def settle(desk: Desk, predicate: object) -> None:
    def advanced() -> bool:
        desk.advance(0.2)
        return bool(predicate())  # type: ignore[operator]

    await eventually(advanced)


async def long_aapl(desk: Desk, intent_id: str = "buy-1") -> None:
    ask = desk.venue.quote("AAPL").ask
    intent = make_intent(
        desk.clock,
        intent_id=intent_id,
        limit=str(ask + D("0.02")),
        stop_loss=str(ask - D("0.08")),
    )
    assert (await desk.engine.propose(intent, source="test")).accepted
    desk.advance(3.0)  # the trader reads it: the trader's time
    assert (await approve_pending(desk.engine, intent_id)).ok
    await settle(desk, lambda: desk.engine.book.positions.get("AAPL") is not None)
    await settle(desk, lambda: desk.engine.book.positions["AAPL"].quantity == 10)


async def test_close_position_cancels_the_symbols_orders_then_sells_at_market(
    desk: Desk,
) -> None:
    await long_aapl(desk)
    live_before = [o for o in desk.venue.orders(open_only=True)]
    assert live_before  # the bracket's stop works at the venue
    result = await desk.engine.close_position("AAPL", "test close")
    assert result.ok, result.message
    closes = [o for o in desk.venue.orders() if o.order_ref.endswith(":FLAT")]
    assert len(closes) == 1
    (close,) = closes
    assert (close.side, close.quantity, close.order_type) == (Side.SELL, D(10), OrderType.MARKET)
    await settle(desk, lambda: desk.engine.book.positions["AAPL"].quantity == 0)
    await settle(desk, lambda: not desk.venue.orders(open_only=True))


async def test_latency_splits_the_traders_time_from_the_engines(desk: Desk) -> None:
    await long_aapl(desk)
    latency = desk.engine.snapshot().latency
    (thinking,) = latency.intent_to_approve
    (engine_own,) = latency.approve_to_submit
    assert thinking == pytest.approx(3000.0)  # the 3 s the trader read it
    assert engine_own < 100.0  # the frozen clock: the engine took no clock time


async def test_lookup_names_an_unknown_symbol_and_knows_a_listed_one(desk: Desk) -> None:
    known = await desk.engine.lookup_contract("AAPL")
    assert known.facts is not None and known.facts.min_tick == D("0.01")
    unknown = await desk.engine.lookup_contract("NOPE")
    assert unknown.facts is None and "NOPE" in unknown.detail
