"""Safety actions are never blocked by bookkeeping (issue 9 section 4): attacks and regressions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from contracts.broker import AccountSnapshot, AccountUpdated, order_ref_for
from contracts.enums import DriftResolution, DriftType, LifecycleState, Side, TradingState
from engine.clock import ManualClock
from engine.engine import Engine
from tests.support import (
    FakeBroker,
    approve_pending,
    config_with,
    eventually,
    make_intent,
    started_engine,
)


@contextmanager
def write_locked(store_path: Path) -> Iterator[None]:
    """Another process holds the store's write lock (as a stuck backup or a second writer would)."""
    blocker = sqlite3.connect(str(store_path))
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        blocker.rollback()
        blocker.close()


def kinds(engine: Engine) -> list[str]:
    engine.store.flush()
    return [r.kind for r in engine.store.rows()]


def alert_codes(engine: Engine) -> list[str]:
    return [a.code for a in engine.book.alerts]


async def test_rollback_with_a_write_locked_store_still_halts_and_cancels(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock, limit="99.50", stop_loss="99.40")
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    assert broker.working
    with write_locked(tmp_path / "audit.sqlite"):
        result = await engine.rollback("drill under a locked store", timeout_s=0.3)
        assert engine.book.trading_state is TradingState.HALTED
        assert broker.cancel_all_calls >= 1 and not broker.working
        assert "AUDIT_PENDING" in alert_codes(engine)
    assert result.message.startswith("rollback")
    # Once the store allows, the queued records reach the disk, in the chain.
    recorded = kinds(engine)
    assert "ROLLBACK_STARTED" in recorded and "ROLLBACK_COMPLETED" in recorded
    assert engine.store.verify().ok
    await engine.stop()


class NavBroker(FakeBroker):
    nav = Decimal(100000)

    async def account(self) -> AccountSnapshot:
        return self.snapshot()

    def snapshot(self) -> AccountSnapshot:
        return AccountSnapshot(
            account_id=self.account_id, is_paper=True, net_liquidation=self.nav, ts=self.clock.now()
        )

    def push_nav(self, nav: Decimal) -> None:
        self.nav = nav
        self.push(AccountUpdated(ts=self.clock.now(), account=self.snapshot()))


async def test_a_failed_automatic_rollback_retries_with_backoff_and_alerts_each_time(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    broker = NavBroker(clock)
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    engine.safety.retry_backoff_s = (0.01, 0.01)
    engine.safety.auto_rollback_timeout_s = 0.2
    await engine.start()
    broker.position_book["MSFT"] = Decimal(7)  # a position the engine cannot close
    broker.push_nav(Decimal(100000))
    broker.push_nav(Decimal(94000))  # -6 %: automatic rollback
    await eventually(lambda: "ROLLBACK_FAILED" in alert_codes(engine), timeout=20)
    assert alert_codes(engine).count("ROLLBACK_RETRY") == 2
    assert kinds(engine).count("ROLLBACK_STARTED") == 3
    await engine.stop()


async def test_flatten_of_a_position_adopted_through_drift_resolution(tmp_path: Path) -> None:
    engine, broker, _ = await started_engine(tmp_path)
    broker.position_book["MSFT"] = Decimal(5)  # opened outside deskgate
    await engine.reconcile("test")
    drift = next(d for d in engine.book.drifts.values() if d.drift_type is DriftType.POSITION_SIZE)
    result = await engine.resolve_drift(
        drift.drift_id, DriftResolution.ENGINE_CORRECTED, "adopt the broker's 5 MSFT"
    )
    assert result.ok and engine.book.positions["MSFT"].quantity == 5
    flat = await engine.flatten("close the adopted position")
    assert flat.ok, flat.message
    sent = [r for r in broker.submits if r.order_ref.endswith(":FLAT")]
    assert [(r.instrument.symbol, r.side, r.quantity) for r in sent] == [
        ("MSFT", Side.SELL, Decimal(5))
    ]
    await engine.stop()


async def test_reduce_only_counts_working_orders_not_only_the_position(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    entry = make_intent(clock)
    assert (await engine.propose(entry)).accepted
    assert (await approve_pending(engine, entry.intent_id)).ok
    broker.fill(order_ref_for(entry.intent_id), 10, "100.00")
    await eventually(lambda: engine.book.positions["AAPL"].quantity == 10)
    # Two stop-less SELL 10: each alone would only close the long 10.
    first = make_intent(clock, side=Side.SELL, limit="100.02", stop_loss=None)
    second = make_intent(clock, side=Side.SELL, limit="100.03", stop_loss=None)
    assert (await engine.propose(first)).accepted
    assert (await engine.propose(second)).accepted
    assert (await approve_pending(engine, first.intent_id)).ok
    refused = await approve_pending(engine, second.intent_id)
    assert not refused.ok and "STOP_REQUIRED" in refused.message
    sells = [r for r in broker.submits if r.side is Side.SELL and r.order_ref.endswith(":ENTRY")]
    assert len(sells) == 1
    assert engine.book.records[second.intent_id].state is LifecycleState.REJECTED
    await engine.stop()
