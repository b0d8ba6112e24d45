"""One bracket exit cancelled at the broker while the other works: the engine records which leg
went, and neither the Orders panel nor the reconciliation cries wolf.

Before, the engine knew only "an exit was cancelled". A target cancelled in TWS (or expired)
while the stop still worked moved the entry back to FILLED: the Orders panel called the working
stop CANCELLED, and the next reconciliation found that stop at the broker under a FILLED entry
and raised it as drift, so the desk went REDUCING (no new entries) over a position its stop
protected. A target gone unheard could not be adopted at all (the engine had no way to mark one
leg), and the panel kept calling it WORKING. These attacks fail on the old code.
"""

from __future__ import annotations

from pathlib import Path

from console.tui.state import orders_at_broker
from console.tui.widgets.tables import leg_status
from contracts.broker import order_ref_for
from contracts.enums import (
    AlertLevel,
    DriftResolution,
    DriftSeverity,
    LifecycleState,
    OrderLeg,
    TradingState,
)
from engine.engine import Engine
from tests.support import (
    config_with,
    eventually,
    managed_bracket,
    started_engine,
)

AGREE = "reconciled: engine and broker agree"


def legs_shown(engine: Engine, intent_id: str) -> list[str]:
    """The Orders panel's words for the bracket's legs: stop, then target."""
    order = next(o for o in engine.snapshot().orders if o.intent_id == intent_id)
    return [leg_status(order, leg)[0] for leg in order.legs]


async def test_a_target_cancelled_at_the_broker_leaves_the_stop_working_and_no_drift(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    iid = await managed_bracket(engine, broker, clock)
    broker.cancel_exits(iid, OrderLeg.TAKE_PROFIT)  # typed away in TWS; the stop still works
    await eventually(lambda: legs_shown(engine, iid)[1] == "CANCELLED")
    assert engine.book.records[iid].state is LifecycleState.MANAGED  # protected by its stop
    assert legs_shown(engine, iid) == ["WORKING", "CANCELLED"]
    assert orders_at_broker(engine.snapshot()) == 1  # the kill and quit dialogs' count
    assert order_ref_for(iid, OrderLeg.STOP_LOSS) in broker.working
    assert (await engine.reconcile("after the cancel")).message == AGREE
    assert engine.book.drifts == {}
    assert engine.book.trading_state is TradingState.ACTIVE  # new entries are still allowed
    await engine.stop()

    restarted = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await restarted.start()  # the leg's cancel is in the log: replay and recovery keep it
    assert restarted.book.records[iid].state is LifecycleState.MANAGED
    assert legs_shown(restarted, iid) == ["WORKING", "CANCELLED"]
    assert (await restarted.reconcile("after the restart")).message == AGREE
    await restarted.stop()


async def test_the_stop_cancelled_alone_still_leaves_the_position_unprotected(
    tmp_path: Path,
) -> None:
    """The other way round nothing loosens: the stop gone is FILLED, its stop CANCELLED."""
    engine, broker, clock = await started_engine(tmp_path)
    iid = await managed_bracket(engine, broker, clock)
    broker.cancel_exits(iid, OrderLeg.STOP_LOSS)
    await eventually(lambda: engine.book.records[iid].state is LifecycleState.FILLED)
    assert legs_shown(engine, iid)[0] == "CANCELLED"
    await engine.stop()


async def test_a_target_gone_unheard_is_adopted_leg_by_leg(tmp_path: Path) -> None:
    """The reconciliation finds the target gone (HIGH); adopting the broker's view records it
    gone, the panel stops calling it WORKING, and the stop keeps the entry MANAGED."""
    engine, broker, clock = await started_engine(tmp_path)
    iid = await managed_bracket(engine, broker, clock)
    broker.drop_silently(order_ref_for(iid, OrderLeg.TAKE_PROFIT))
    await engine.reconcile("periodic")
    (drift,) = engine.book.drifts.values()
    assert drift.severity is DriftSeverity.HIGH and drift.broker_state == {"missing": "target"}
    assert legs_shown(engine, iid) == ["WORKING", "WORKING"]  # the engine's view, drift raised
    ok = await engine.resolve_drift(drift.drift_id, DriftResolution.ENGINE_CORRECTED, "expired")
    assert ok.ok, ok.message
    assert engine.book.records[iid].state is LifecycleState.MANAGED
    assert legs_shown(engine, iid) == ["WORKING", "CANCELLED"]
    gone = next(a for a in engine.book.alerts if a.code == "EXITS_GONE")
    assert gone.level is AlertLevel.WARNING
    assert gone.message == (
        f"{iid}: its target is not at the broker (drift {drift.drift_id}); "
        "its stop still works there"
    )
    assert engine.book.trading_state is TradingState.ACTIVE
    assert (await engine.reconcile("again")).message == AGREE
    await engine.stop()


async def test_a_leg_recorded_gone_that_the_broker_lists_again_is_drift(tmp_path: Path) -> None:
    """The engine's record says the target went; a broker listing it again is not believed."""
    engine, broker, clock = await started_engine(tmp_path)
    iid = await managed_bracket(engine, broker, clock)
    ref = order_ref_for(iid, OrderLeg.TAKE_PROFIT)
    listed = broker.working[ref]
    broker.cancel_exits(iid, OrderLeg.TAKE_PROFIT)
    await eventually(lambda: legs_shown(engine, iid)[1] == "CANCELLED")
    broker.working[ref] = listed
    await engine.reconcile("periodic")
    (drift,) = engine.book.drifts.values()
    assert drift.subject == ref
    assert drift.engine_state == {"state": "MANAGED", "exit": "cancelled"}
    await engine.stop()
