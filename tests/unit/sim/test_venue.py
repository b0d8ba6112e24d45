"""Venue behaviour: determinism, orders, partials, brackets/OCA, resting limits, cancels."""

from __future__ import annotations

from decimal import Decimal

import pytest

from broker.sim import (
    ManualScheduler,
    OrderEventKind,
    Outcome,
    ScriptedOutcome,
    SimVenue,
    VenueError,
    VenueFillEvent,
    VenueOrderEvent,
    VenueOrderStatus,
)
from contracts.enums import ChaosMode, OrderType, Side, TimeInForce
from tests.unit.sim.helpers import ACCOUNT, Recorder, spec


def _run_session(seed: int, chaos: ChaosMode) -> list[tuple[object, ...]]:
    venue = SimVenue(seed, chaos, starting_cash=Decimal("1e9"))
    trace: list[tuple[object, ...]] = []
    for i in range(200):
        for q in venue.step():
            trace.append((q.symbol, q.bid, q.ask, q.last))
        side = Side.BUY if i % 2 == 0 else Side.SELL
        order = venue.submit(spec(side, 10 + i % 7, symbol="MSFT"))
        trace.append((order.perm_id, order.outcome))
        venue.scheduler.advance(1.0)  # type: ignore[attr-defined]
    for e in venue.executions():
        trace.append((e.exec_id, e.perm_id, e.quantity, e.price, e.commission))
    for o in venue.orders():
        trace.append((o.perm_id, o.status, o.filled))
    return trace


def test_same_seed_same_history_different_seed_differs() -> None:
    first = _run_session(42, ChaosMode.ADVERSARIAL)
    assert first == _run_session(42, ChaosMode.ADVERSARIAL)
    assert first != _run_session(43, ChaosMode.ADVERSARIAL)


def test_quotes_stay_on_the_tick_grid_with_positive_spread() -> None:
    venue = SimVenue(3)
    for _ in range(500):
        for q in venue.step():
            tick = venue.spec(q.symbol).tick  # type: ignore[union-attr]
            assert q.bid % tick == 0 and q.ask % tick == 0
            assert q.ask > q.bid > 0
            assert q.last in (q.bid, q.ask)


def test_market_order_fills_at_the_touch_instantly() -> None:
    venue = SimVenue(1)
    rec = Recorder(venue)
    quote = venue.quote("AAPL")
    order = venue.submit(spec(Side.BUY, 100))
    assert order.status is VenueOrderStatus.FILLED
    [fill] = rec.of(VenueFillEvent)
    assert fill.execution.price == quote.ask
    assert fill.execution.cum_quantity == Decimal(100)
    kinds = [e.kind for e in rec.of(VenueOrderEvent)]
    assert kinds == [OrderEventKind.ACCEPTED]


def test_partial_fill_then_remainder_on_next_step() -> None:
    venue = SimVenue(5)
    venue.script(ScriptedOutcome(Outcome.PARTIAL))
    order = venue.submit(spec(Side.BUY, 100))
    assert order.status is VenueOrderStatus.WORKING
    assert Decimal(0) < order.filled < Decimal(100)
    venue.step("AAPL")
    done = venue.order(order.perm_id)
    assert done is not None and done.status is VenueOrderStatus.FILLED
    fills = venue.executions()
    assert [f.cum_quantity for f in fills] == [order.filled, Decimal(100)]
    assert sum(f.quantity for f in fills) == Decimal(100)


def test_limit_rests_until_the_walk_crosses_it() -> None:
    venue = SimVenue(11)
    start = venue.quote("SPY")
    limit = start.bid - Decimal("0.20")
    order = venue.submit(spec(Side.BUY, 10, OrderType.LIMIT, symbol="SPY", limit=str(limit)))
    assert order.status is VenueOrderStatus.WORKING and order.filled == 0
    steps = 0
    while venue.order(order.perm_id).status is VenueOrderStatus.WORKING:  # type: ignore[union-attr]
        venue.step("SPY")
        steps += 1
        assert steps < 10_000
    [fill] = venue.executions()
    assert fill.price <= limit
    assert steps > 0


def test_stop_triggers_on_last_and_fills_at_the_bid() -> None:
    venue = SimVenue(2)
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    venue.submit(spec(Side.BUY, 10))
    stop = venue.submit(spec(Side.SELL, 10, OrderType.STOP, stop="99.50"))
    venue.set_price("AAPL", Decimal("99.60"), Decimal("99.61"))
    assert venue.order(stop.perm_id).status is VenueOrderStatus.WORKING  # type: ignore[union-attr]
    venue.set_price("AAPL", Decimal("99.40"), Decimal("99.42"))
    assert venue.order(stop.perm_id).status is VenueOrderStatus.FILLED  # type: ignore[union-attr]
    assert venue.executions()[-1].price == Decimal("99.40")


def test_bracket_children_wait_for_parent_then_oca() -> None:
    venue = SimVenue(9)
    rec = Recorder(venue)
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.02"))
    parent = venue.submit(spec(Side.BUY, 50, OrderType.LIMIT, limit="99.00"))
    sl = venue.submit(spec(Side.SELL, 50, OrderType.STOP, stop="98.00", parent=parent.perm_id))
    tp = venue.submit(spec(Side.SELL, 50, OrderType.LIMIT, limit="101.00", parent=parent.perm_id))
    assert venue.order(sl.perm_id).held and venue.order(tp.perm_id).held  # type: ignore[union-attr]
    # a price the stop would trigger at does nothing while the parent is unfilled
    venue.set_price("AAPL", Decimal("101.50"), Decimal("101.52"))
    assert venue.executions() == []
    venue.set_price("AAPL", Decimal("98.90"), Decimal("98.95"))
    assert venue.order(parent.perm_id).status is VenueOrderStatus.FILLED  # type: ignore[union-attr]
    activated = [e.order.perm_id for e in rec.of(VenueOrderEvent) if e.kind == "ACTIVATED"]
    assert activated == [sl.perm_id, tp.perm_id]
    venue.set_price("AAPL", Decimal("101.05"), Decimal("101.06"))
    assert venue.order(tp.perm_id).status is VenueOrderStatus.FILLED  # type: ignore[union-attr]
    assert venue.order(sl.perm_id).status is VenueOrderStatus.CANCELLED  # type: ignore[union-attr]
    [pos] = venue.positions(ACCOUNT)
    assert pos.quantity == 0
    assert pos.realized_pnl == (Decimal("101.05") - Decimal("98.95")) * 50


def test_partial_child_fill_reduces_its_oca_sibling() -> None:
    venue = SimVenue(4)
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    parent = venue.submit(spec(Side.BUY, 100))
    venue.script(ScriptedOutcome(Outcome.FILL), ScriptedOutcome(Outcome.PARTIAL))
    sl = venue.submit(spec(Side.SELL, 100, OrderType.STOP, stop="99.00", parent=parent.perm_id))
    tp = venue.submit(spec(Side.SELL, 100, OrderType.LIMIT, limit="100.50", parent=parent.perm_id))
    venue.set_price("AAPL", Decimal("100.60"), Decimal("100.61"))
    tp_now = venue.order(tp.perm_id)
    sl_now = venue.order(sl.perm_id)
    assert tp_now is not None and sl_now is not None
    assert Decimal(0) < tp_now.filled < Decimal(100)
    assert sl_now.quantity == Decimal(100) - tp_now.filled


def test_parent_cancelled_after_partial_protects_the_filled_part() -> None:
    venue = SimVenue(4)
    venue.script(ScriptedOutcome(Outcome.PARTIAL))
    parent = venue.submit(spec(Side.BUY, 100))
    sl = venue.submit(spec(Side.SELL, 100, OrderType.STOP, stop="1.00", parent=parent.perm_id))
    venue.cancel(parent.perm_id)
    child = venue.order(sl.perm_id)
    assert child is not None and child.status is VenueOrderStatus.WORKING
    assert not child.held and child.quantity == parent.filled


def test_unfilled_parent_cancel_cancels_children() -> None:
    venue = SimVenue(4)
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    parent = venue.submit(spec(Side.BUY, 10, OrderType.LIMIT, limit="90.00"))
    tp = venue.submit(spec(Side.SELL, 10, OrderType.LIMIT, limit="110.00", parent=parent.perm_id))
    venue.cancel(parent.perm_id)
    assert venue.order(tp.perm_id).status is VenueOrderStatus.CANCELLED  # type: ignore[union-attr]


def test_global_cancel_cancels_every_open_order() -> None:
    venue = SimVenue(6)
    venue.set_price("MSFT", Decimal("400.00"), Decimal("400.01"))
    resting = [
        venue.submit(spec(Side.BUY, 5, OrderType.LIMIT, symbol="MSFT", limit=f"{390 - i}.00"))
        for i in range(4)
    ]
    filled = venue.submit(spec(Side.BUY, 5, symbol="MSFT"))
    cancelled = venue.cancel_all()
    assert sorted(o.perm_id for o in cancelled) == sorted(o.perm_id for o in resting)
    assert venue.orders(open_only=True) == []
    assert venue.order(filled.perm_id).status is VenueOrderStatus.FILLED  # type: ignore[union-attr]


def test_cancel_errors_use_ib_codes() -> None:
    venue = SimVenue(6)
    filled = venue.submit(spec(Side.BUY, 5))
    with pytest.raises(VenueError) as done:
        venue.cancel(filled.perm_id)
    assert done.value.code == 10148
    with pytest.raises(VenueError) as unknown:
        venue.cancel(123)
    assert unknown.value.code == 10147


def test_modify_moves_a_resting_limit_into_the_market() -> None:
    venue = SimVenue(8)
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    order = venue.submit(spec(Side.BUY, 10, OrderType.LIMIT, limit="95.00"))
    venue.modify(order.perm_id, limit_price=Decimal("100.05"))
    assert venue.order(order.perm_id).status is VenueOrderStatus.FILLED  # type: ignore[union-attr]
    with pytest.raises(VenueError) as exc:
        venue.modify(order.perm_id, limit_price=Decimal("99.00"))
    assert exc.value.code == 104


def test_ioc_limit_away_from_market_is_cancelled() -> None:
    venue = SimVenue(8)
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    order = venue.submit(spec(Side.BUY, 10, OrderType.LIMIT, limit="95.00", tif=TimeInForce.IOC))
    assert order.status is VenueOrderStatus.CANCELLED


def test_unknown_symbol_and_off_tick_prices_are_rejected() -> None:
    venue = SimVenue(8)
    rec = Recorder(venue)
    venue.submit(spec(symbol="ZZZZ"))
    venue.submit(spec(Side.BUY, 1, OrderType.LIMIT, limit="100.005"))
    codes = [e.code for e in rec.of(VenueOrderEvent) if e.kind is OrderEventKind.REJECTED]
    assert codes == [200, 110]


def test_delayed_ack_waits_for_the_scheduler() -> None:
    scheduler = ManualScheduler()
    venue = SimVenue(8, scheduler=scheduler)
    venue.script(ScriptedOutcome(Outcome.DELAY, delay=15.0))
    order = venue.submit(spec(Side.BUY, 10))
    assert order.status is VenueOrderStatus.PENDING_SUBMIT
    scheduler.advance(14.9)
    assert venue.order(order.perm_id).status is VenueOrderStatus.PENDING_SUBMIT  # type: ignore[union-attr]
    scheduler.advance(0.2)
    assert venue.order(order.perm_id).status is VenueOrderStatus.FILLED  # type: ignore[union-attr]


def test_cancel_while_ack_is_delayed_wins() -> None:
    venue = SimVenue(8)
    venue.script(ScriptedOutcome(Outcome.DELAY, delay=5.0))
    order = venue.submit(spec(Side.BUY, 10))
    venue.cancel(order.perm_id)
    venue.scheduler.advance(10)  # type: ignore[attr-defined]
    assert venue.order(order.perm_id).status is VenueOrderStatus.CANCELLED  # type: ignore[union-attr]
    assert venue.executions() == []


def test_force_fill_fills_regardless_of_book() -> None:
    venue = SimVenue(8)
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    order = venue.submit(spec(Side.BUY, 10, OrderType.LIMIT, limit="90.00"))
    ex = venue.force_fill(order.perm_id, price=Decimal("90.00"))
    assert ex.price == Decimal("90.00") and ex.cum_quantity == 10
    assert venue.order(order.perm_id).status is VenueOrderStatus.FILLED  # type: ignore[union-attr]
