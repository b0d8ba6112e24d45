"""Restart after a crash: recovered broker events during connect, and no double counting."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from contracts.broker import BrokerExecution, CommissionReported, OrderFilled
from contracts.enums import LifecycleState, Side
from engine import crashpoints
from engine.clock import ManualClock
from engine.engine import Engine
from tests.support import FakeBroker, approve_pending, config_with, make_intent, started_engine


class RecoveringBroker(FakeBroker):
    """Like IbkrBroker: fills that happened while the engine was down arrive during connect."""

    async def connect(self) -> None:
        await super().connect()
        for ex in self.fills:
            self.sink(
                OrderFilled(
                    ts=ex.time,
                    order_ref=ex.order_ref,
                    perm_id=ex.perm_id,
                    exec_id=ex.exec_id,
                    side=ex.side,
                    quantity=ex.quantity,
                    price=ex.price,
                    cum_quantity=ex.cum_quantity,
                    remaining=Decimal(0),
                )
            )
            self.sink(CommissionReported(ts=ex.time, exec_id=ex.exec_id, commission=Decimal("1")))


async def crash_right_after_send(tmp_path: Path) -> tuple[Engine, FakeBroker, ManualClock, str]:
    """Approve and send, then die before the batched beads after the write-ahead reach disk."""
    engine, broker, clock = await started_engine(tmp_path)
    for task in engine._tasks:
        task.cancel()
    engine.store.flush = lambda: None  # type: ignore[method-assign]
    broker.auto_ack = False
    intent = make_intent(clock)
    await engine.propose(intent)
    assert (await approve_pending(engine, intent.intent_id)).ok
    return engine, broker, clock, intent.intent_id


def execution(ref: str, clock: ManualClock, exec_id: str = "E1") -> BrokerExecution:
    return BrokerExecution(
        exec_id=exec_id,
        order_ref=ref,
        perm_id=1001,
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(10),
        price=Decimal("100.00"),
        cum_quantity=Decimal(10),
        time=clock.now(),
    )


async def test_fill_recovered_during_connect_finds_the_order_submitted(tmp_path: Path) -> None:
    _, _, clock, iid = await crash_right_after_send(tmp_path)
    ref = f"dg:{iid}:ENTRY"
    broker2 = RecoveringBroker(clock)
    broker2.fills = [execution(ref, clock)]  # it filled while we were down; no longer open
    again = Engine(config_with(), broker2, data_dir=tmp_path, clock=clock)
    await again.start()
    rec = again.book.records[iid]
    assert rec.entry_filled == 10
    assert rec.state in (LifecycleState.FILLED, LifecycleState.MANAGED), rec.state
    again.store.flush()
    assert "INVALID_TRANSITION" not in {r.kind for r in again.store.rows() if r.intent_id == iid}
    assert broker2.submits == []
    await again.stop()


async def test_commission_is_counted_once_across_restarts(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock)
    await engine.propose(intent)
    await approve_pending(engine, intent.intent_id)
    ref = f"dg:{intent.intent_id}:ENTRY"
    broker.fill(ref, 10, "100.00")
    broker.push(CommissionReported(ts=clock.now(), exec_id="E00001", commission=Decimal("1")))
    broker.push(CommissionReported(ts=clock.now(), exec_id="E00001", commission=Decimal("1")))
    assert engine.book.commissions_today == 1
    await engine.stop()
    broker2 = RecoveringBroker(clock)
    broker2.fills = list(broker.fills)  # the resync re-reports the execution and commission
    again = Engine(engine.config, broker2, data_dir=tmp_path, clock=clock)
    await again.start()
    assert again.book.commissions_today == 1
    assert again.book.realized_today == -1
    await again.stop()


class Crash(BaseException):
    """The process dies here (SIGKILL): nothing after this point runs or reaches the disk."""


async def test_crash_between_fill_and_exits_working_is_managed_after_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    for task in engine._tasks:
        task.cancel()
    intent = make_intent(clock)  # with a bracket stop
    await engine.propose(intent)
    assert (await approve_pending(engine, intent.intent_id)).ok
    ref = f"dg:{intent.intent_id}:ENTRY"
    entry = broker.working[ref]

    def die_after_fill(name: str) -> None:
        if name == "after_fill":
            raise Crash

    monkeypatch.setattr(crashpoints, "hit", die_after_fill)
    with pytest.raises(Crash):
        broker.fill(ref, 10, "100.00")
    engine.store._pending.clear()  # the batch after the flush never reached the disk
    monkeypatch.undo()

    broker2 = FakeBroker(clock)
    stop_ref = f"dg:{intent.intent_id}:SL"
    broker2.working[stop_ref] = entry.model_copy(  # the bracket stop, live at the broker
        update={"order_ref": stop_ref, "perm_id": entry.perm_id + 1, "side": Side.SELL}
    )
    broker2.fills = list(broker.fills)
    broker2.position_book = dict(broker.position_book)
    again = Engine(config_with(), broker2, data_dir=tmp_path, clock=clock)
    await again.start()
    rec = again.book.records[intent.intent_id]
    assert rec.state is LifecycleState.MANAGED, rec.state
    assert again.book.drifts == {}
    assert broker2.submits == []
    await again.stop()
