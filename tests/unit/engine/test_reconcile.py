"""Reconciliation: every disagreement is a drift bead and an alert; nothing is auto-corrected."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.broker import BrokerOrder, order_ref_for
from contracts.enums import (
    AlertLevel,
    BrokerOrderStatus,
    DenialReason,
    DriftResolution,
    DriftSeverity,
    DriftType,
    LifecycleState,
    OrderLeg,
    OrderType,
    Side,
    TradingState,
)
from contracts.intent import Instrument
from tests.support import (
    approve_pending,
    config_with,
    eventually,
    make_intent,
    managed_bracket,
    started_engine,
)


async def filled_position(engine, broker, clock, qty: int = 10) -> str:  # type: ignore[no-untyped-def]
    intent = make_intent(clock, quantity=qty)
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    broker.fill(f"dg:{intent.intent_id}:ENTRY", qty, "100.00")
    return intent.intent_id


async def test_agreement_is_not_drift(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    await filled_position(engine, broker, clock)
    result = await engine.reconcile("test")
    assert result.ok and "agree" in result.message
    assert engine.book.drifts == {}
    await engine.stop()


async def test_wrong_broker_position_is_drift_and_never_auto_corrected(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path, config_with(max_trades_per_day=5))
    await filled_position(engine, broker, clock)
    broker.position_book["AAPL"] = Decimal(7)
    await engine.reconcile("test")
    (drift,) = engine.book.drifts.values()
    assert drift.drift_type is DriftType.POSITION_SIZE and drift.subject == "AAPL"
    assert drift.engine_state["quantity"] == "10" and drift.broker_state["quantity"] == "7"
    assert engine.book.positions["AAPL"].quantity == 10  # not corrected
    assert engine.book.trading_state is TradingState.REDUCING
    assert any(a.code == "DRIFT" for a in engine.book.alerts)
    denied = await engine.propose(make_intent(clock, quantity=2))
    assert DenialReason.REDUCING_ONLY in {d.reason for d in denied.denials}
    # the same drift is not raised twice
    await engine.reconcile("again")
    assert len(engine.book.drifts) == 1
    await engine.stop()


async def test_partial_fill_ratio_mismatch_is_drift(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock, quantity=10)
    await engine.propose(intent)
    await approve_pending(engine, intent.intent_id)
    ref = f"dg:{intent.intent_id}:ENTRY"
    broker.fill(ref, 5, "100.00")  # the engine saw 50 %
    order = broker.working[ref]
    broker.working[ref] = order.model_copy(update={"filled": Decimal(6), "remaining": Decimal(4)})
    await engine.reconcile("test")
    kinds = {d.drift_type for d in engine.book.drifts.values()}
    assert DriftType.FILL_MISMATCH in kinds
    drift = next(d for d in engine.book.drifts.values() if d.drift_type is DriftType.FILL_MISMATCH)
    assert drift.engine_state["ratio"] == "50%" and drift.broker_state["ratio"] == "60%"
    await engine.stop()


async def test_order_typed_at_the_broker_is_foreign_drift(tmp_path: Path) -> None:
    engine, broker, _ = await started_engine(tmp_path)
    broker.working["manual-1"] = BrokerOrder(
        order_ref="",
        broker_order_id=99,
        perm_id=555,
        instrument=Instrument(symbol="MSFT"),
        side=Side.BUY,
        quantity=Decimal(5),
        filled=Decimal(0),
        remaining=Decimal(5),
        order_type=OrderType.MARKET,
        status=BrokerOrderStatus.WORKING,
    )
    await engine.reconcile("test")
    (drift,) = engine.book.drifts.values()
    assert drift.drift_type is DriftType.FOREIGN_ORDER and drift.broker_state["symbol"] == "MSFT"
    snapshot = engine.snapshot()
    assert snapshot.drifts == (drift,)
    await engine.stop()


async def test_engine_corrected_adopts_the_broker_and_lifts_reducing(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    await filled_position(engine, broker, clock)
    broker.position_book["AAPL"] = Decimal(8)
    await engine.reconcile("test")
    (drift,) = engine.book.drifts.values()
    refused = await engine.resolve_drift(drift.drift_id, DriftResolution.ENGINE_CORRECTED, " ")
    assert not refused.ok and refused.code == "NOTE_REQUIRED"
    ok = await engine.resolve_drift(
        drift.drift_id, DriftResolution.ENGINE_CORRECTED, "two shares sold in TWS", "alice"
    )
    assert ok.ok
    assert engine.book.positions["AAPL"].quantity == 8
    assert engine.book.trading_state is TradingState.ACTIVE
    await engine.reconcile("after")
    assert engine.book.drifts == {}
    engine.store.flush()
    kinds = [r.kind for r in engine.store.rows()]
    assert "RECONCILIATION_DRIFT" in kinds and "RECONCILIATION_RESOLUTION" in kinds
    await engine.stop()


async def test_acknowledged_drift_is_not_raised_again_until_it_changes(tmp_path: Path) -> None:
    engine, broker, _ = await started_engine(tmp_path)
    broker.position_book["SPY"] = Decimal(100)  # a long-term holding outside deskgate
    await engine.reconcile("test")
    (drift,) = engine.book.drifts.values()
    await engine.resolve_drift(drift.drift_id, DriftResolution.ACKNOWLEDGED, "core holding")
    await engine.reconcile("again")
    assert engine.book.drifts == {}
    broker.position_book["SPY"] = Decimal(90)
    await engine.reconcile("changed")
    assert len(engine.book.drifts) == 1
    await engine.stop()


async def test_never_more_than_twelve_a_minute(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)  # start-up already ran one
    results = [await engine.reconcile(f"r{i}") for i in range(12)]
    assert sum(r.ok for r in results) == 11
    assert results[-1].code == "RATE_LIMITED"
    await engine.stop()


async def test_drift_after_a_fill_is_raised_within_five_seconds(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    broker.position_book["AAPL"] = Decimal(3)  # the broker already disagrees
    intent = make_intent(clock)
    await engine.propose(intent)
    await approve_pending(engine, intent.intent_id)
    broker.fill(f"dg:{intent.intent_id}:ENTRY", 10, "100.00")
    await eventually(lambda: engine.book.drifts, timeout=5.0)
    await engine.stop()


async def test_rearm_cannot_lift_reducing_while_drift_is_unresolved(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    await filled_position(engine, broker, clock)
    broker.position_book["AAPL"] = Decimal(4)
    await engine.reconcile("test")
    assert engine.book.trading_state is TradingState.REDUCING
    refused = await engine.rearm("I want to trade", "bob")
    assert not refused.ok and refused.code == "DRIFT"
    assert engine.book.trading_state is TradingState.REDUCING
    await engine.kill("stop")
    back = await engine.rearm("kill reviewed", "bob")
    assert back.ok and engine.book.trading_state is TradingState.REDUCING
    (drift,) = engine.book.drifts.values()
    await engine.resolve_drift(drift.drift_id, DriftResolution.ACKNOWLEDGED, "known")
    assert engine.book.trading_state is TradingState.ACTIVE
    await engine.stop()


async def test_a_stop_gone_at_the_broker_unheard_is_critical_drift(tmp_path: Path) -> None:
    """The broker no longer works the position's stop and sent nothing the engine heard: the
    periodic reconciliation says so (critical), and changes nothing by itself."""
    engine, broker, clock = await started_engine(tmp_path)
    iid = await managed_bracket(engine, broker, clock)
    assert (await engine.reconcile("periodic")).message == "reconciled: engine and broker agree"
    broker.drop_silently(order_ref_for(iid, OrderLeg.STOP_LOSS))
    await engine.reconcile("periodic")
    (drift,) = engine.book.drifts.values()
    assert drift.drift_type is DriftType.EXIT_MISSING_AT_BROKER
    assert drift.severity is DriftSeverity.CRITICAL
    assert drift.subject == order_ref_for(iid)
    assert drift.engine_state == {"working": "stop and target", "position": "10 AAPL"}
    assert drift.broker_state == {"missing": "stop"}
    assert engine.book.records[iid].state is LifecycleState.MANAGED  # not corrected
    assert engine.book.trading_state is TradingState.REDUCING
    assert any(a.code == "DRIFT" and a.level is AlertLevel.CRITICAL for a in engine.book.alerts)
    await engine.stop()


async def test_adopting_both_exits_gone_leaves_the_position_filled_and_unprotected(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    iid = await managed_bracket(engine, broker, clock)
    for leg in (OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT):
        broker.drop_silently(order_ref_for(iid, leg))
    await engine.reconcile("periodic")
    (drift,) = engine.book.drifts.values()
    assert drift.broker_state == {"missing": "stop and target"}
    ok = await engine.resolve_drift(
        drift.drift_id, DriftResolution.ENGINE_CORRECTED, "stop expired at the close"
    )
    assert ok.ok, ok.message
    assert engine.book.records[iid].state is LifecycleState.FILLED
    assert engine.book.positions["AAPL"].quantity == 10  # still held, nothing protects it
    gone = next(a for a in engine.book.alerts if a.code == "EXITS_GONE")
    assert iid in gone.message and "unprotected" in gone.message
    assert engine.book.drifts == {}
    assert engine.book.trading_state is TradingState.ACTIVE
    assert (await engine.reconcile("again")).message == "reconciled: engine and broker agree"
    await engine.stop()


async def test_a_target_gone_alone_is_high_and_once_acknowledged_not_raised_again(
    tmp_path: Path,
) -> None:
    """The stop still works: high, not critical. Acknowledged (the trader keeps the engine's
    view), the same difference is not raised again. Adopting it: test_exit_cancelled_alone."""
    engine, broker, clock = await started_engine(tmp_path)
    iid = await managed_bracket(engine, broker, clock)
    broker.drop_silently(order_ref_for(iid, OrderLeg.TAKE_PROFIT))
    await engine.reconcile("periodic")
    (drift,) = engine.book.drifts.values()
    assert drift.severity is DriftSeverity.HIGH and drift.broker_state == {"missing": "target"}
    assert engine.book.records[iid].state is LifecycleState.MANAGED
    acked = await engine.resolve_drift(drift.drift_id, DriftResolution.ACKNOWLEDGED, "no target")
    assert acked.ok and engine.book.drifts == {}
    await engine.reconcile("again")
    assert engine.book.drifts == {}  # the same difference, acknowledged: not raised again
    await engine.stop()


async def test_an_exit_that_filled_is_not_missing(tmp_path: Path) -> None:
    """The stop filled and the target went with it (one OCA group): closed, not drift."""
    engine, broker, clock = await started_engine(tmp_path)
    iid = await managed_bracket(engine, broker, clock)
    broker.fill(order_ref_for(iid, OrderLeg.STOP_LOSS), 10, "99.90")
    await eventually(lambda: engine.book.records[iid].state is LifecycleState.CLOSED)
    assert order_ref_for(iid, OrderLeg.TAKE_PROFIT) not in broker.working
    assert (await engine.reconcile("periodic")).message == "reconciled: engine and broker agree"
    await engine.stop()


async def test_adopting_a_stop_gone_alone_says_the_target_still_works(tmp_path: Path) -> None:
    """As when the broker reports the stop cancelled: the entry is FILLED, unprotected (its stop
    recorded gone); the target the broker still works is then raised by the next
    reconciliation."""
    engine, broker, clock = await started_engine(tmp_path)
    iid = await managed_bracket(engine, broker, clock)
    broker.drop_silently(order_ref_for(iid, OrderLeg.STOP_LOSS))
    await engine.reconcile("periodic")
    (drift,) = engine.book.drifts.values()
    ok = await engine.resolve_drift(drift.drift_id, DriftResolution.ENGINE_CORRECTED, "gone")
    assert ok.ok, ok.message
    assert engine.book.records[iid].state is LifecycleState.FILLED
    assert engine.book.records[iid].exits_gone == {OrderLeg.STOP_LOSS}
    gone = next(a for a in engine.book.alerts if a.code == "EXITS_GONE")
    assert gone.message == (
        f"{iid}: its stop is not at the broker (drift {drift.drift_id}): "
        "AAPL position unprotected; its target still works there"
    )
    clock.advance(1)
    await engine.reconcile("again")
    (left,) = engine.book.drifts.values()
    assert left.drift_type is DriftType.STATUS_MISMATCH
    assert left.subject == order_ref_for(iid, OrderLeg.TAKE_PROFIT)
    await engine.stop()
