"""Restart: the engine rebuilds from the audit store; pending tokens are void; nothing resent."""

from __future__ import annotations

from pathlib import Path

from contracts.enums import LifecycleState, TokenRejection, TradingState
from engine.engine import Engine
from tests.support import FakeBroker, approve_pending, config_with, make_intent, started_engine


async def test_state_is_rebuilt_and_old_tokens_are_void(tmp_path: Path) -> None:
    config = config_with(max_trades_per_day=10)
    engine, broker, clock = await started_engine(tmp_path, config)
    filled = make_intent(clock)
    pending = make_intent(clock, quantity=3)
    await engine.propose(filled)
    await approve_pending(engine, filled.intent_id)
    broker.fill(f"dg:{filled.intent_id}:ENTRY", 10, "100.00")
    await engine.propose(pending)
    old_token = engine.pending_token(pending.intent_id)
    assert old_token
    await engine.kill("end of day")
    await engine.stop()

    broker2 = FakeBroker(clock)
    broker2.fills = list(broker.fills)  # the broker remembers today's fills
    again = Engine(config, broker2, data_dir=tmp_path, clock=clock)
    await again.start()
    # The kill cancelled the bracket's exits (the fake broker holds none): unprotected.
    assert again.book.records[filled.intent_id].state is LifecycleState.FILLED
    assert again.book.positions["AAPL"].quantity == 10
    assert again.book.trading_state is TradingState.HALTED  # kill persists
    result = await again.approve(pending.intent_id, old_token)
    assert not result.ok and result.code in (
        TokenRejection.UNKNOWN_TOKEN,
        TokenRejection.VOID_AFTER_RESTART,
    )
    assert broker2.submits == []  # nothing is resent on restart
    again.store.flush()
    assert any(
        r.kind == "TOKEN_EXPIRED" and r.intent_id == pending.intent_id for r in again.store.rows()
    )
    assert again.store.verify().ok
    await again.stop()


async def test_pending_intent_gets_a_fresh_token_after_restart(tmp_path: Path) -> None:
    config = config_with(max_trades_per_day=10)
    engine, _broker, clock = await started_engine(tmp_path, config)
    pending = make_intent(clock)
    await engine.propose(pending)
    old = engine.pending_token(pending.intent_id)
    await engine.stop()
    broker2 = FakeBroker(clock)
    again = Engine(config, broker2, data_dir=tmp_path, clock=clock)
    await again.start()
    # The old token is void; the intent is re-checked and offered with a new one.
    new = again.pending_token(pending.intent_id)
    assert old and new and new != old
    assert (await again.approve(pending.intent_id, old)).ok is False
    assert (await again.approve(pending.intent_id, new)).ok
    await again.stop()


async def test_order_sent_before_a_crash_is_matched_not_resent(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock)
    await engine.propose(intent)
    broker.auto_ack = False
    await approve_pending(engine, intent.intent_id)
    engine.store.flush()
    # crash: no stop(); a new engine and the same broker state
    broker2 = FakeBroker(clock)
    broker2.working = dict(broker.working)
    again = Engine(engine.config, broker2, data_dir=tmp_path, clock=clock)
    await again.start()
    rec = again.book.records[intent.intent_id]
    assert rec.state is LifecycleState.SUBMITTED and rec.acked_at is not None
    assert broker2.submits == []
    await again.stop()
