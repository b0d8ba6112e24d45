"""Kill switch: HALTED blocks entries, cancels everything, confirms with the broker, persists."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.broker import BrokerDisconnected
from contracts.enums import LifecycleState, Side, TradingState
from tests.support import (
    approve_pending,
    config_with,
    eventually,
    make_intent,
    started_engine,
    working_orders,
)


async def test_kill_with_ten_working_orders_cancels_all_and_confirms(tmp_path: Path) -> None:
    config = config_with(
        max_trades_per_day=100, max_position=Decimal(10_000), max_working_orders=20
    )
    engine, broker, clock = await started_engine(tmp_path, config)
    ids = await working_orders(engine, clock, 10)
    assert len(broker.entries()) == 10  # and their ten stops
    await engine.kill("test")
    await eventually(lambda: engine.book.kill_confirmed is True)
    assert broker.cancel_all_calls >= 1 and broker.working == {}
    assert all(engine.book.records[i].state is LifecycleState.CANCELLED for i in ids)
    assert engine.snapshot().trading_state is TradingState.HALTED
    await engine.stop()


async def test_kill_while_disconnected_stays_unconfirmed_then_resends(tmp_path: Path) -> None:
    config = config_with(max_trades_per_day=100, max_position=Decimal(10_000))
    engine, broker, clock = await started_engine(tmp_path, config)
    await working_orders(engine, clock, 3)
    broker._connected = False
    broker.push(BrokerDisconnected(ts=clock.now(), reason="link down"))
    await engine.kill("test")
    await eventually(lambda: engine.book.kill_confirmed is False)
    assert broker.cancel_all_calls == 0 and len(broker.entries()) == 3
    assert all(o.unknown for o in engine.snapshot().orders)
    await broker.connect()
    await eventually(lambda: engine.book.kill_confirmed is True)
    assert broker.working == {}
    await engine.stop()


async def test_rearm_needs_a_reason_and_is_recorded(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    await engine.kill("test")
    assert not (await engine.rearm("  ")).ok
    assert engine.book.trading_state is TradingState.HALTED
    assert (await engine.rearm("checked positions", actor="alice")).ok
    assert engine.book.trading_state is TradingState.ACTIVE
    engine.store.flush()
    states = [r for r in engine.store.rows() if r.kind == "TRADING_STATE"]
    assert len(states) == 2 and "alice" in states[-1].payload
    await engine.stop()


async def test_daily_loss_cap_trips_the_kill_switch(tmp_path: Path) -> None:
    config = config_with(max_trades_per_day=10)
    engine, broker, clock = await started_engine(tmp_path, config)
    entry = make_intent(clock, quantity=100, stop_loss="99.88")
    config = config_with(max_trades_per_day=10, max_risk_per_trade=Decimal(100))
    engine.config = config
    assert (await engine.propose(entry)).accepted
    await approve_pending(engine, entry.intent_id)
    broker.fill(f"dg:{entry.intent_id}:ENTRY", 100, "100.00")
    exit_ = make_intent(clock, side=Side.SELL, quantity=100, stop_loss=None, limit="99.69")
    broker.quote("AAPL", "99.68", "99.70")
    assert (await engine.propose(exit_)).accepted
    await approve_pending(engine, exit_.intent_id)
    broker.fill(f"dg:{exit_.intent_id}:ENTRY", 100, "99.69")  # -$31 realized
    await eventually(lambda: engine.book.trading_state is TradingState.HALTED)
    await engine.stop()


async def test_flatten_sends_only_risk_reducing_orders_even_when_halted(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    entry = make_intent(clock)
    await engine.propose(entry)
    await approve_pending(engine, entry.intent_id)
    broker.fill(f"dg:{entry.intent_id}:ENTRY", 10, "100.00")
    await engine.kill("stop")
    result = await engine.flatten("close out")
    assert result.ok, result.message
    flat = broker.submits[-1]
    assert flat.side is Side.SELL and flat.quantity == 10 and flat.order_ref.endswith(":FLAT")
    broker.fill(flat.order_ref, 10, "100.00")
    assert engine.book.positions["AAPL"].quantity == 0
    engine.store.flush()
    submitting = [r for r in engine.store.rows() if r.kind == "SUBMITTING"]
    assert '"exempt":"flatten"' in submitting[-1].payload
    await engine.stop()
