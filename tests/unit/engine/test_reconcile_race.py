"""A fill landing while the broker's reconciliation answers are in flight is not drift."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from contracts.broker import BrokerPosition
from engine.engine import Engine
from tests.support import FakeBroker, approve_pending, eventually, make_intent, started_engine


class SnapshotThenFill(FakeBroker):
    """positions() answers with the state before a fill that reaches the engine meanwhile."""

    during: Callable[[], None] | None = None

    async def positions(self) -> list[BrokerPosition]:
        snapshot = await super().positions()
        if self.during is not None:
            during, self.during = self.during, None
            during()  # the execDetails for this fill arrives before the positions answer ends
        return snapshot


async def test_fill_during_the_comparison_retries_instead_of_raising_drift(
    tmp_path: Path,
) -> None:
    engine, _, clock = await started_engine(tmp_path)
    await engine.stop()
    broker = SnapshotThenFill(clock)
    engine = Engine(engine.config, broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    intent = make_intent(clock)
    await engine.propose(intent)
    assert (await approve_pending(engine, intent.intent_id)).ok
    ref = f"dg:{intent.intent_id}:ENTRY"
    broker.during = lambda: broker.fill(ref, 10, "100.00")
    result = await engine.reconcile("manual")
    assert result.code == "RETRY"
    assert engine.book.drifts == {}
    # the retry compares a consistent pair and agrees
    await eventually(lambda: any(r.kind == "RECONCILED" for r in engine.store.tail(5)), timeout=3)
    assert engine.book.drifts == {}
    assert engine.book.positions["AAPL"].quantity == 10
    await engine.stop()


async def test_bracket_exits_held_at_the_broker_while_the_entry_works_are_not_drift(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock, limit="99.00", stop_loss="98.90")  # rests below the market
    await engine.propose(intent)
    assert (await approve_pending(engine, intent.intent_id)).ok
    stop_ref = f"dg:{intent.intent_id}:SL"
    held = broker.working[stop_ref]  # the bracket stop, held at the broker
    result = await engine.reconcile("manual")
    assert result.ok and engine.book.drifts == {}, result.message
    # once the entry is cancelled unfilled, a stop the broker kept working is a real mismatch
    broker.confirm_cancel(f"dg:{intent.intent_id}:ENTRY")
    broker.working[stop_ref] = held
    clock.advance(1)
    await engine.reconcile("again")
    assert [d.subject for d in engine.book.drifts.values()] == [stop_ref]
    await engine.stop()
