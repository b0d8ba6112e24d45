"""An exit that fills while flatten's (or close-position's) cancels are on their way.

Flatten and close-position cancel the symbol's working orders (a bracket's stop and target
among them), then close the position with a market order. A cancel is a request: until the
broker answers it, the exit can still fill. A close sized from the position before that answer
sold the filled part a second time and left the account short. These attacks fail on the old
code, which sent the close as soon as the cancel request was out.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from contracts.broker import order_ref_for
from contracts.enums import AlertLevel, LifecycleState, OrderLeg, Side
from engine.clock import ManualClock
from engine.engine import Engine
from tests.support import (
    FakeBroker,
    approve_pending,
    eventually,
    make_intent,
    started_engine,
)


class SlowCancels(FakeBroker):
    """A busy venue: cancels are answered when the test says, and orders can fill meanwhile."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.unanswered: list[str] = []

    async def cancel(self, order_ref: str) -> None:
        self.cancels.append(order_ref)
        self.unanswered.append(order_ref)

    async def cancel_all(self) -> None:
        self.cancel_all_calls += 1
        self.unanswered.extend(self.working)

    def answer_cancels(self) -> None:
        for ref in self.unanswered:
            self.confirm_cancel(ref)  # an order that filled meanwhile is gone: nothing to answer
        self.unanswered.clear()


async def long_with_a_working_exit(tmp_path: Path) -> tuple[Engine, SlowCancels, str]:
    """Long 10 AAPL, with a SELL 10 exit working at the broker; the exit's orderRef."""
    clock = ManualClock()
    broker = SlowCancels(clock)
    engine, _, _ = await started_engine(tmp_path, clock=clock, broker=broker)
    entry = make_intent(clock)
    assert (await engine.propose(entry)).accepted
    assert (await approve_pending(engine, entry.intent_id)).ok
    broker.fill(order_ref_for(entry.intent_id), 10, "100.00")
    await eventually(lambda: engine.book.positions["AAPL"].quantity == 10)
    exit_ = make_intent(clock, side=Side.SELL, limit="100.02", stop_loss=None)
    assert (await engine.propose(exit_)).accepted
    assert (await approve_pending(engine, exit_.intent_id)).ok
    exit_ref = order_ref_for(exit_.intent_id)
    assert exit_ref in broker.working
    return engine, broker, exit_ref


def closes_sent(broker: FakeBroker) -> list[tuple[Side, Decimal]]:
    return [(r.side, r.quantity) for r in broker.submits if r.order_ref.endswith(":FLAT")]


async def cancel_requested(broker: SlowCancels) -> None:
    await eventually(lambda: broker.unanswered)


async def test_an_exit_filled_before_its_cancel_is_not_sold_again_by_flatten(
    tmp_path: Path,
) -> None:
    engine, broker, exit_ref = await long_with_a_working_exit(tmp_path)
    flatten = asyncio.create_task(engine.flatten("get out"))
    await cancel_requested(broker)
    broker.fill(exit_ref, 10, "100.02")  # the exit beat its cancel
    broker.answer_cancels()
    result = await flatten
    assert closes_sent(broker) == [], "the close sold the filled exit's shares a second time"
    assert broker.position_book["AAPL"] == 0
    assert engine.book.positions["AAPL"].quantity == 0
    assert result.ok, result.message
    assert "closed by their exits" in result.message
    await engine.stop()


async def test_flatten_closes_only_what_a_partly_filled_exit_left(tmp_path: Path) -> None:
    engine, broker, exit_ref = await long_with_a_working_exit(tmp_path)
    flatten = asyncio.create_task(engine.flatten("get out"))
    await cancel_requested(broker)
    broker.fill(exit_ref, 4, "100.02")
    broker.answer_cancels()
    result = await flatten
    assert closes_sent(broker) == [(Side.SELL, Decimal(6))]
    assert result.ok and result.message == "flatten: 1 of 1 orders sent", result.message
    await engine.stop()


async def test_close_position_waits_for_the_exits_cancel_before_sizing(tmp_path: Path) -> None:
    engine, broker, exit_ref = await long_with_a_working_exit(tmp_path)
    close = asyncio.create_task(engine.close_position("AAPL", "out of AAPL"))
    await cancel_requested(broker)
    assert exit_ref in broker.cancels  # with the long's own bracket stop
    broker.fill(exit_ref, 10, "100.02")
    broker.answer_cancels()
    result = await close
    assert closes_sent(broker) == []
    assert result.ok and "closed by its exits" in result.message, result.message
    assert broker.position_book["AAPL"] == 0
    await engine.stop()


async def test_a_cancel_never_answered_still_closes_and_raises_a_critical_alert(
    tmp_path: Path,
) -> None:
    engine, broker, exit_ref = await long_with_a_working_exit(tmp_path)
    engine.safety.cancels_confirm_wait_s = 0.2
    result = await engine.flatten("get out")  # the broker never answers the cancel
    assert closes_sent(broker) == [(Side.SELL, Decimal(10))], "the trader asked to be out"
    alert = next(a for a in engine.book.alerts if a.code == "CANCEL_UNCONFIRMED")
    assert alert.level is AlertLevel.CRITICAL
    assert exit_ref in alert.message and "flatten" in alert.message
    assert result.ok and "still working" in result.message, result.message
    await engine.stop()


async def test_a_flattened_entry_leaves_the_live_orders_once_the_position_is_flat(
    tmp_path: Path,
) -> None:
    """After a kill cancelled its exits and a flatten closed its position, an entry stayed
    FILLED in the live orders for good, its age ticking, as if something of it were open."""
    engine, broker, clock = await started_engine(tmp_path)
    entry = make_intent(clock, limit="100.00", stop_loss="99.90", take_profit="100.20")
    other = make_intent(clock, symbol="MSFT", limit="100.00", stop_loss="99.90")
    for intent in (entry, other):
        assert (await engine.propose(intent)).accepted
        assert (await approve_pending(engine, intent.intent_id)).ok
        broker.fill(order_ref_for(intent.intent_id), 10, "100.00")
    records = engine.book.records
    await eventually(lambda: records[entry.intent_id].state is LifecycleState.MANAGED)
    await engine.kill("drill")
    broker.cancel_exits(entry.intent_id)
    broker.cancel_exits(other.intent_id, OrderLeg.STOP_LOSS)
    await eventually(lambda: records[entry.intent_id].state is LifecycleState.FILLED)
    await eventually(lambda: records[other.intent_id].state is LifecycleState.FILLED)
    assert (await engine.close_position("AAPL", "out of AAPL")).ok
    (close,) = [r for r in broker.submits if r.order_ref.endswith(":FLAT")]
    broker.fill(close.order_ref, 6, "99.95")  # part of the close: AAPL still held
    assert records[entry.intent_id].state is LifecycleState.FILLED
    broker.fill(close.order_ref, 4, "99.95")
    await eventually(lambda: engine.book.positions["AAPL"].quantity == 0)
    assert records[entry.intent_id].state is LifecycleState.CLOSED
    assert entry.intent_id not in engine.book.live
    assert records[other.intent_id].state is LifecycleState.FILLED  # MSFT is still held
    await engine.stop()
