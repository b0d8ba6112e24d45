"""The engine's invariants and the attacks against them (issue #2, item 13)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from contracts.enums import (
    DenialReason,
    LifecycleState,
    Regime,
    Side,
    TokenRejection,
    TradingState,
    Trigger,
)
from engine.engine import Engine
from engine.orders import order_request_for
from tests.support import approve_pending, config_with, make_intent, started_engine


def kinds(engine: Engine, intent_id: str | None = None) -> list[str]:
    engine.store.flush()
    return [r.kind for r in engine.store.rows() if intent_id is None or r.intent_id == intent_id]


async def proposed(engine: Engine, clock, **kw):  # type: ignore[no-untyped-def]
    intent = make_intent(clock, **kw)
    result = await engine.propose(intent)
    return intent, result


async def test_approval_sends_exactly_one_order_with_its_token(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent, result = await proposed(engine, clock)
    assert result.accepted, result.message
    token = engine.pending_token(intent.intent_id)
    assert token and len(token) >= 43  # 32 random bytes, url-safe base64
    ok = await engine.approve(intent.intent_id, token)
    assert ok.ok, ok.message
    assert [r.order_ref for r in broker.submits] == [f"dg:{intent.intent_id}:ENTRY"]
    assert engine.book.records[intent.intent_id].state is LifecycleState.SUBMITTED
    await engine.stop()


async def test_token_replay_is_refused_and_sends_nothing(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent, _ = await proposed(engine, clock)
    token = engine.pending_token(intent.intent_id)
    assert token
    assert (await engine.approve(intent.intent_id, token)).ok
    again = await engine.approve(intent.intent_id, token)
    assert not again.ok and again.code == TokenRejection.ALREADY_USED
    assert len(broker.submits) == 1
    assert kinds(engine, intent.intent_id).count("TOKEN_REJECTED") == 1
    await engine.stop()


async def test_token_expires_after_five_minutes_on_the_monotonic_clock(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent, _ = await proposed(engine, clock)
    token = engine.pending_token(intent.intent_id)
    assert token
    clock.advance(299)
    broker.quote("AAPL", "99.99", "100.01")
    assert engine.can_approve(intent.intent_id).ok
    clock.advance(1.5)
    broker.quote("AAPL", "99.99", "100.01")
    assert not engine.can_approve(intent.intent_id).ok
    result = await engine.approve(intent.intent_id, token)
    assert not result.ok and result.code == TokenRejection.EXPIRED
    engine.tick()
    assert engine.book.records[intent.intent_id].state is LifecycleState.EXPIRED
    assert broker.submits == []
    assert "TOKEN_EXPIRED" in kinds(engine, intent.intent_id) or "TOKEN_REJECTED" in kinds(
        engine, intent.intent_id
    )
    await engine.stop()


async def test_unapproved_token_expiry_writes_a_bead_and_expires_the_intent(
    tmp_path: Path,
) -> None:
    engine, _, clock = await started_engine(tmp_path)
    intent, _ = await proposed(engine, clock)
    clock.advance(301)
    engine.tick()
    assert engine.book.records[intent.intent_id].state is LifecycleState.EXPIRED
    assert "TOKEN_EXPIRED" in kinds(engine, intent.intent_id)
    assert engine.snapshot().pending == ()
    await engine.stop()


async def test_token_for_another_intent_is_refused(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path, config_with(max_trades_per_day=10))
    first, _ = await proposed(engine, clock)
    second, _ = await proposed(engine, clock, quantity=5)
    token_for_first = engine.pending_token(first.intent_id)
    assert token_for_first
    result = await engine.approve(second.intent_id, token_for_first)
    assert not result.ok and result.code == TokenRejection.WRONG_INTENT
    assert broker.submits == []
    await engine.stop()


async def test_order_without_a_token_never_reaches_the_broker(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent, _ = await proposed(engine, clock)
    for bogus in ("", "not-a-token", "x" * 43):
        result = await engine.approve(intent.intent_id, bogus)
        assert not result.ok
        assert result.code in (TokenRejection.NO_TOKEN, TokenRejection.UNKNOWN_TOKEN)
    rec = engine.book.records[intent.intent_id]
    try:
        await engine.order_path.send(rec, order_request_for(intent), token_id=None)
    except PermissionError:
        pass
    else:
        raise AssertionError("an order without a token or exemption was sent")
    assert broker.submits == []
    await engine.stop()


async def test_two_approvals_racing_for_one_token_one_wins_1000_times(tmp_path: Path) -> None:
    config = config_with(
        max_trades_per_day=5000, max_position=Decimal(10**9), max_working_orders=10**6
    )  # the race, not the working-orders cap (config_with does not validate)
    config = config.model_copy(
        update={"risk": config.risk.model_copy(update={"duplicate_window_s": 0.0})}
    )
    engine, broker, clock = await started_engine(tmp_path, config)
    engine.throttle.per_second = 10**9  # the race, not the pacing
    for _ in range(1000):
        intent, result = await proposed(engine, clock)
        assert result.accepted, result.message
        token = engine.pending_token(intent.intent_id)
        assert token
        a, b = await asyncio.gather(
            engine.approve(intent.intent_id, token), engine.approve(intent.intent_id, token)
        )
        assert a.ok != b.ok, (a, b)
        loser = b if a.ok else a
        assert loser.code == TokenRejection.ALREADY_USED
        clock.advance(0.001)
    assert len(broker.submits) == 1000
    assert len({s.order_ref for s in broker.submits}) == 1000
    await engine.stop()


async def test_order_after_kill_is_refused_before_the_broker(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    pending, _ = await proposed(engine, clock)
    await engine.kill("test")
    assert engine.book.trading_state is TradingState.HALTED
    token = engine.pending_token(pending.intent_id)
    assert token is None  # pending approvals are void on kill
    _late, result = await proposed(engine, clock, quantity=3)
    assert not result.accepted
    assert DenialReason.HALTED in {d.reason for d in result.denials}
    assert broker.submits == []
    await engine.stop()


async def test_kill_flag_blocks_new_entries(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    _, stale = await proposed(engine, clock, state_age_min=31)
    assert not stale.accepted
    assert engine.book.kill_flags  # STATE_CONFLICT temporary kill flag
    _, fresh = await proposed(engine, clock)
    assert not fresh.accepted
    assert DenialReason.KILL_FLAG in {d.reason for d in fresh.denials}
    clock.advance(5 * 60 + 1)
    engine.tick()
    assert not engine.book.kill_flags
    broker.quote("AAPL", "99.99", "100.01")
    _, later = await proposed(engine, clock)
    assert later.accepted, later.message
    await engine.stop()


async def test_approval_after_16_minutes_of_staleness_is_a_state_conflict(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    # High-volatility TTL is 15 min: state 14 min old at proposal passes,
    # and is 16 min old when the trader approves two minutes later.
    intent, result = await proposed(engine, clock, regime=Regime.HIGH_VOLATILITY, state_age_min=14)
    assert result.accepted, result.message
    token = engine.pending_token(intent.intent_id)
    assert token
    clock.advance(120)
    broker.quote("AAPL", "99.99", "100.01")
    outcome = await engine.approve(intent.intent_id, token)
    assert not outcome.ok and outcome.code == DenialReason.STATE_CONFLICT
    assert "STATE_CONFLICT" in engine.book.kill_flags
    assert engine.book.records[intent.intent_id].state is LifecycleState.REJECTED
    assert broker.submits == []
    await engine.stop()


async def test_exits_bypass_the_stale_gate(tmp_path: Path) -> None:
    config = config_with(max_trades_per_day=10)
    engine, broker, clock = await started_engine(tmp_path, config)
    entry, _ = await proposed(engine, clock)
    assert (await approve_pending(engine, entry.intent_id)).ok
    broker.fill(f"dg:{entry.intent_id}:ENTRY", 10, "100.00")

    _, result = await proposed(
        engine, clock, side=Side.SELL, stop_loss=None, limit="100.00", state_age_min=45
    )
    assert result.accepted, result.message
    await engine.stop()


async def test_submitted_without_ack_for_60s_becomes_stalled_with_an_alert(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    broker.auto_ack = False
    intent, _ = await proposed(engine, clock)
    assert (await approve_pending(engine, intent.intent_id)).ok
    clock.advance(59)
    engine.tick()
    assert engine.book.records[intent.intent_id].state is LifecycleState.SUBMITTED
    clock.advance(2)
    engine.tick()
    assert engine.book.records[intent.intent_id].state is LifecycleState.STALLED
    assert any(a.code == "STALLED" for a in engine.book.alerts)
    # A late ack moves it on; a late fill completes it.
    ref = f"dg:{intent.intent_id}:ENTRY"
    broker.ack(ref)
    assert engine.book.records[intent.intent_id].state is LifecycleState.SUBMITTED
    broker.fill(ref, 10, "100.00")
    # Filled, and with its bracket stop working it is MANAGED.
    assert engine.book.records[intent.intent_id].state is LifecycleState.MANAGED
    await engine.stop()


async def test_late_fill_after_stalled_fills_it(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path, config_with(require_stop=False))
    broker.auto_ack = False
    intent, _ = await proposed(engine, clock, stop_loss=None)
    await approve_pending(engine, intent.intent_id)
    clock.advance(61)
    engine.tick()
    assert engine.book.records[intent.intent_id].state is LifecycleState.STALLED
    broker.fill(f"dg:{intent.intent_id}:ENTRY", 10, "100.00")
    assert engine.book.records[intent.intent_id].state is LifecycleState.FILLED
    await engine.stop()


async def test_forced_invalid_transition_is_refused_and_recorded(tmp_path: Path) -> None:
    engine, _, clock = await started_engine(tmp_path)
    intent, _ = await proposed(engine, clock)
    assert not engine.force_transition(intent.intent_id, Trigger.FILL)
    assert engine.book.records[intent.intent_id].state is LifecycleState.PROPOSED
    assert "INVALID_TRANSITION" in kinds(engine, intent.intent_id)
    await engine.stop()


async def test_every_transition_and_token_change_writes_a_bead(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent, _ = await proposed(engine, clock)
    await approve_pending(engine, intent.intent_id)
    ref = f"dg:{intent.intent_id}:ENTRY"
    broker.fill(ref, 4, "100.00")
    broker.fill(ref, 6, "100.00")
    seen = kinds(engine, intent.intent_id)
    assert seen.count("TOKEN_ISSUED") == 1 and seen.count("TOKEN_USED") == 1
    engine.store.flush()
    beads = [
        r for r in engine.store.rows() if r.intent_id == intent.intent_id and r.kind == "POSITION"
    ]
    import json

    path = [json.loads(b.payload)["to_state"] for b in beads]
    assert path == [
        "PROPOSED",
        "APPROVED",
        "SUBMITTED",
        "SUBMITTED",
        "SUBMITTED",
        "FILLED",
        "MANAGED",
    ]
    rec = engine.book.records[intent.intent_id]
    assert rec.entry_filled == 10 and rec.state is LifecycleState.MANAGED
    await engine.stop()


async def test_partial_fill_tracks_requested_filled_and_ratio(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent, _ = await proposed(engine, clock)
    await approve_pending(engine, intent.intent_id)
    broker.fill(f"dg:{intent.intent_id}:ENTRY", 5, "100.00")
    view = next(o for o in engine.snapshot().orders if o.intent_id == intent.intent_id)
    assert (view.requested, view.filled, view.ratio) == (10, 5, Decimal("0.5"))
    assert view.state is LifecycleState.SUBMITTED
    await engine.stop()
