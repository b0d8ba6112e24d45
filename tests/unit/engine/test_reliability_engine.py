"""Issue 16 on the engine: read-only refusal, 1100 alerts, trading hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from contracts.broker import (
    BrokerOrder,
    CancelRejected,
    ConnectivityChanged,
    OrderEntryRefused,
    OrderFilled,
)
from contracts.config import Config
from contracts.enums import AlertLevel, DenialReason, LifecycleState, Side
from contracts.intent import Instrument, Intent
from engine.clock import ManualClock
from engine.engine import Engine
from engine.trading_hours import SessionState
from tests.support import (
    FakeBroker,
    approve_pending,
    config_with,
    eventually,
    make_intent,
    started_engine,
)

READ_ONLY = "The API interface is currently in Read-Only mode."
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
TUESDAY_MIDNIGHT_ET = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
"""00:00 ET: Globex trades, but IB's nightly reset (23:45-00:45 ET) is on."""


def with_hours(config: Config, calendar: str) -> Config:
    return config.model_copy(
        update={"hours": config.hours.model_copy(update={"calendar": calendar})}
    )


def futures_intent(clock: ManualClock, **kwargs: object) -> Intent:
    intent = make_intent(clock, symbol="MES", **kwargs)  # type: ignore[arg-type]
    es = Instrument(symbol="MES", sec_type="FUT", exchange="CME", expiry="202612")
    order = intent.order.model_copy(update={"instrument": es})
    return intent.model_copy(update={"order": order})


def check(engine: Engine, intent: Intent, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in engine.risk.evaluate(intent) if c.name == name)


# --- 1. read-only API: order entry disabled with the reason; refused sends are not trades ---


async def test_read_only_refusal_disables_entry_and_does_not_use_up_the_days_trades(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await started_engine(tmp_path, config_with(max_trades_per_day=1))
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    assert engine.book.trades_today == 1
    ref = broker.submits[0].order_ref
    broker.push(OrderEntryRefused(ts=clock.now(), reason=READ_ONLY))
    broker.reject(ref, code=321, reason=f"Error validating request: {READ_ONLY}")
    assert engine.book.records[intent.intent_id].state is LifecycleState.REJECTED
    assert engine.book.trades_today == 0
    snap = engine.snapshot()
    assert snap.order_entry_refused == READ_ONLY
    assert any(a.code == "ORDER_ENTRY_REFUSED" for a in snap.alerts)
    second = await engine.propose(make_intent(clock, quantity=3))
    assert not second.accepted
    assert [d.reason for d in second.denials] == [DenialReason.ORDER_ENTRY_REFUSED]
    assert len(broker.submits) == 1
    await engine.stop()


async def test_a_refused_trade_stays_uncounted_after_a_restart(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path, config_with(max_trades_per_day=1))
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    broker.reject(broker.submits[0].order_ref, code=321, reason=READ_ONLY)
    await engine.stop()
    again = Engine(
        config_with(max_trades_per_day=1), FakeBroker(clock), data_dir=tmp_path, clock=clock
    )
    await again.start()
    assert again.book.trades_today == 0
    assert again.snapshot().order_entry_refused is None  # a new session may accept orders
    await again.stop()


# --- 2. 1100 alert within 5 s (resync before sends: tests/security/test_reliability_sends.py)


async def test_a_1100_raises_a_critical_alert_within_five_seconds(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    lost_at = clock.now()
    broker._connected = False
    broker.push(ConnectivityChanged(ts=lost_at, connected=False, message="1100 lost"))
    alert = next(a for a in engine.book.alerts if a.code == "CONNECTIVITY")
    assert alert.level is AlertLevel.CRITICAL
    assert alert.ts_event - lost_at <= timedelta(seconds=5)
    assert not engine.snapshot().connection.connected
    await engine.stop()


# --- 5. trading hours: venue session and IB's reset window -----------------------------


async def test_no_entry_outside_the_venue_session_and_the_snapshot_says_why(
    tmp_path: Path,
) -> None:
    clock = ManualClock(SATURDAY)
    engine, broker, _ = await started_engine(tmp_path, with_hours(config_with(), "on"), clock)
    result = await engine.propose(make_intent(clock))
    assert not result.accepted
    assert [d.reason for d in result.denials] == [DenialReason.MARKET_CLOSED]
    (session,) = engine.snapshot().market_sessions
    assert session.state is SessionState.CLOSED and "weekend" in session.reason
    assert broker.submits == []
    await engine.stop()


async def test_no_entry_inside_the_ib_reset_window(tmp_path: Path) -> None:
    clock = ManualClock(TUESDAY_MIDNIGHT_ET)
    engine, broker, _ = await started_engine(tmp_path, with_hours(config_with(), "on"), clock)
    broker.quote("MES", "99.99", "100.01")
    result = await engine.propose(futures_intent(clock))
    assert [d.reason for d in result.denials] == [DenialReason.RESET_WINDOW]
    (session,) = engine.snapshot().market_sessions
    assert session.state is SessionState.MAINTENANCE
    clock.advance(3600)  # 01:00 ET: the reset is over, Globex trades
    assert check(engine, futures_intent(clock), "market_session").passed
    await engine.stop()


async def test_an_order_approved_before_the_reset_is_refused_inside_it(tmp_path: Path) -> None:
    clock = ManualClock(TUESDAY_MIDNIGHT_ET - timedelta(minutes=16))
    engine, broker, _ = await started_engine(tmp_path, with_hours(config_with(), "on"), clock)
    broker.quote("MES", "99.99", "100.01")
    intent = futures_intent(clock)
    assert (await engine.propose(intent)).accepted
    clock.advance(120)  # 23:46 ET
    broker.quote("MES", "99.99", "100.01")
    result = await approve_pending(engine, intent.intent_id)
    assert not result.ok and result.code == DenialReason.RESET_WINDOW
    assert broker.submits == []
    await engine.stop()


async def test_exits_are_never_blocked_by_the_calendar(tmp_path: Path) -> None:
    clock = ManualClock(SATURDAY)
    engine, _, _ = await started_engine(tmp_path, with_hours(config_with(), "on"), clock)
    exit_ = make_intent(clock, reduces_risk=True)
    outcome = check(engine, exit_, "market_session")
    assert outcome.passed and "exit" in outcome.detail
    await engine.stop()


async def test_the_sim_venue_trades_at_any_hour_by_default(tmp_path: Path) -> None:
    clock = ManualClock(SATURDAY)
    engine, broker, _ = await started_engine(tmp_path, config_with(), clock)  # broker gateway
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    assert len(broker.submits) == 1
    assert engine.snapshot().market_sessions == ()
    await engine.stop()


async def test_calendar_auto_applies_with_the_ibkr_broker(tmp_path: Path) -> None:
    clock = ManualClock(SATURDAY)
    base = config_with()
    config = base.model_copy(update={"broker": base.broker.model_copy(update={"kind": "ibkr"})})
    engine, _, _ = await started_engine(tmp_path, config, clock)
    outcome = check(engine, make_intent(clock), "market_session")
    assert not outcome.passed and outcome.reason is DenialReason.MARKET_CLOSED
    assert Decimal(engine.snapshot().trades_today) == 0
    await engine.stop()


# --- 4. a fill after a confirmed cancel is checked against the broker's position ----------


def late_fill(broker: FakeBroker, ref: str, perm_id: int) -> OrderFilled:
    return OrderFilled(
        ts=broker.clock.now(),
        order_ref=ref,
        perm_id=perm_id,
        exec_id="late-1",
        side=Side.BUY,
        quantity=Decimal(10),
        price=Decimal(100),
        cum_quantity=Decimal(10),
        remaining=Decimal(0),
    )


async def cancelled_order(engine: Engine, broker: FakeBroker) -> tuple[str, str, int]:
    intent = make_intent(engine.clock)  # with a stop: bracket exits go with the cancel
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    ref = broker.submits[0].order_ref
    perm_id = broker.order(ref).perm_id
    assert (await engine.cancel(intent.intent_id)).ok
    assert engine.book.records[intent.intent_id].state is LifecycleState.CANCELLED
    return intent.intent_id, ref, perm_id


def reconciled_after_the_fill(engine: Engine) -> bool:
    engine.store.flush()
    rows = list(engine.store.rows())
    fill = max(r.seq for r in rows if r.kind == "FILL")
    return any(r.kind == "RECONCILED" and r.seq > fill for r in rows)


async def test_a_fill_after_a_confirmed_cancel_stands_unprotected_and_matches_the_broker(
    tmp_path: Path,
) -> None:
    engine, broker, _ = await started_engine(tmp_path)
    intent_id, ref, perm_id = await cancelled_order(engine, broker)
    broker.position_book["AAPL"] = Decimal(10)  # the broker booked the late execution
    broker.push(late_fill(broker, ref, perm_id))
    rec = engine.book.records[intent_id]
    assert rec.state is LifecycleState.FILLED  # not MANAGED: its exits were cancelled
    assert any(a.code == "FILL_AFTER_CANCEL" for a in engine.book.alerts)
    assert engine.book.positions["AAPL"].quantity == Decimal(10)
    await eventually(lambda: reconciled_after_the_fill(engine))
    assert not engine.book.drifts
    await engine.stop()


async def test_an_unexplained_fill_after_a_cancel_is_drift(tmp_path: Path) -> None:
    engine, broker, _ = await started_engine(tmp_path)
    _, ref, perm_id = await cancelled_order(engine, broker)
    broker.push(late_fill(broker, ref, perm_id))  # the broker's position does not show it
    await eventually(lambda: reconciled_after_the_fill(engine))
    assert [d.subject for d in engine.book.drifts.values()] == ["AAPL"]
    await engine.stop()


# --- 3. a cancel that gets no answer: PENDING_CANCEL, a timeout that asks the broker --------


class SilentCancelBroker(FakeBroker):
    """Takes cancels and never answers them (the venue's answer is lost)."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.open_order_requests = 0

    async def cancel(self, order_ref: str) -> None:
        self.cancels.append(order_ref)

    async def open_orders(self) -> list[BrokerOrder]:
        self.open_order_requests += 1
        return await super().open_orders()


async def silent_cancel(tmp_path: Path) -> tuple[Engine, SilentCancelBroker, ManualClock, str]:
    clock = ManualClock()
    broker = SilentCancelBroker(clock)
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    assert (await engine.cancel(intent.intent_id)).ok
    assert engine.book.records[intent.intent_id].state is LifecycleState.PENDING_CANCEL
    return engine, broker, clock, intent.intent_id


async def test_an_unanswered_cancel_is_pending_until_the_timeout_asks_the_broker(
    tmp_path: Path,
) -> None:
    engine, broker, clock, intent_id = await silent_cancel(tmp_path)
    assert next(o for o in engine.snapshot().orders if o.intent_id == intent_id).state is (
        LifecycleState.PENDING_CANCEL
    )
    asked = broker.open_order_requests
    engine.tick()
    assert broker.open_order_requests == asked  # not yet due
    broker.working.clear()  # the venue did cancel it; its answer never came
    clock.advance(engine.config.lifecycle.cancel_timeout_s)
    engine.tick()
    await eventually(lambda: engine.book.records[intent_id].state is LifecycleState.CANCELLED)
    assert broker.open_order_requests > asked
    assert any(a.code == "CANCEL_UNANSWERED" for a in engine.book.alerts)
    await engine.stop()


async def test_a_cancel_rejected_resolves_pending_cancel_at_once_and_reports_the_wait(
    tmp_path: Path,
) -> None:
    engine, broker, clock, intent_id = await silent_cancel(tmp_path)
    clock.advance(0.25)
    ref = broker.cancels[0]
    broker.push(CancelRejected(ts=clock.now(), order_ref=ref, code=10147, reason="not found"))
    assert engine.book.records[intent_id].state is LifecycleState.SUBMITTED  # still ours
    assert engine.snapshot().cancel_waits_s == (0.25,)
    alert = next(a for a in engine.book.alerts if a.code == "CANCEL_REJECTED")
    assert "0.25 s in PENDING_CANCEL" in alert.message
    assert (await engine.cancel(intent_id)).ok  # it can be cancelled again
    broker.confirm_cancel(ref)
    assert engine.book.records[intent_id].state is LifecycleState.CANCELLED
    await engine.stop()


async def test_a_fill_racing_a_pending_cancel_stands(tmp_path: Path) -> None:
    engine, broker, _, intent_id = await silent_cancel(tmp_path)
    broker.fill(broker.cancels[0], 10, "100.00")
    assert engine.book.records[intent_id].state in (LifecycleState.FILLED, LifecycleState.MANAGED)
    await engine.stop()
