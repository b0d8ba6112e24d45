"""A bracket's exits on the trader's screen: cancelled ones are not shown working, and working ones
are counted in the kill dialog.

Before, the Orders panel called a filled entry's stop and target WORKING whenever the entry was
FILLED or MANAGED. The engine moves a MANAGED entry back to FILLED when its exits are cancelled,
so after a kill the trader read "stop WORKING" under a position nothing protected any more.
"""

from __future__ import annotations

from pathlib import Path

from console.tui.state import orders_at_broker
from console.tui.widgets.drift import drift_line
from console.tui.widgets.tables import leg_status
from contracts.broker import order_ref_for
from contracts.enums import DriftResolution, LifecycleState, OrderLeg, TradingState
from tests.support import (
    approve_pending,
    eventually,
    make_intent,
    started_engine,
)


async def test_exits_cancelled_by_a_kill_are_not_shown_working(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    entry = make_intent(clock, limit="100.00", stop_loss="99.90", take_profit="100.20")
    assert (await engine.propose(entry)).accepted
    assert (await approve_pending(engine, entry.intent_id)).ok
    broker.fill(order_ref_for(entry.intent_id), 10, "100.00")
    await eventually(lambda: engine.book.records[entry.intent_id].state is LifecycleState.MANAGED)

    def legs_shown() -> list[str]:
        order = next(o for o in engine.snapshot().orders if o.intent_id == entry.intent_id)
        return [leg_status(order, leg)[0] for leg in order.legs]

    assert legs_shown() == ["WORKING", "WORKING"]
    await engine.kill("drill")
    broker.cancel_exits(entry.intent_id)  # the broker's global cancel
    await eventually(lambda: engine.book.records[entry.intent_id].state is LifecycleState.FILLED)
    assert engine.book.positions["AAPL"].quantity == 10  # still open, and unprotected
    assert legs_shown() == ["CANCELLED", "CANCELLED"]
    await engine.stop()


async def test_the_kill_dialog_counts_a_brackets_working_exits(tmp_path: Path) -> None:
    """A filled entry with its stop and target working is two orders at the broker, and the
    kill cancels both; the dialog counted the entry once ("1 working order")."""
    engine, broker, clock = await started_engine(tmp_path)
    entry = make_intent(clock, limit="100.00", stop_loss="99.90", take_profit="100.20")
    working = make_intent(clock, limit="99.50", stop_loss="99.40")
    for intent in (entry, working):
        assert (await engine.propose(intent)).accepted
        assert (await approve_pending(engine, intent.intent_id)).ok
    assert orders_at_broker(engine.snapshot()) == 2  # two entries working
    broker.fill(order_ref_for(entry.intent_id), 10, "100.00")
    await eventually(lambda: engine.book.records[entry.intent_id].state is LifecycleState.MANAGED)
    assert orders_at_broker(engine.snapshot()) == 3  # the stop, the target, the other entry
    await engine.stop()


async def test_exits_gone_while_away_are_not_shown_working_after_a_restart(
    tmp_path: Path,
) -> None:
    """A DAY stop expired overnight (or was cancelled in TWS while deskgate was down): the
    broker lists it no more and sent nothing deskgate heard. The entry stayed MANAGED and the
    Orders panel said the stop worked, over a position nothing protected."""
    engine, broker, clock = await started_engine(tmp_path)
    entry = make_intent(clock, limit="100.00", stop_loss="99.90")
    kept = make_intent(clock, symbol="MSFT", limit="100.00", stop_loss="99.90")
    for intent in (entry, kept):
        assert (await engine.propose(intent)).accepted
        assert (await approve_pending(engine, intent.intent_id)).ok
        broker.fill(order_ref_for(intent.intent_id), 10, "100.00")
        await eventually(
            lambda i=intent: engine.book.records[i.intent_id].state is LifecycleState.MANAGED
        )
    await engine.stop()

    broker.drop_silently(order_ref_for(entry.intent_id, OrderLeg.STOP_LOSS))  # while away
    again, _, _ = await started_engine(tmp_path, clock=clock, broker=broker)
    records = again.book.records
    await eventually(lambda: records[entry.intent_id].state is LifecycleState.FILLED)
    assert records[kept.intent_id].state is LifecycleState.MANAGED  # its stop still works
    alert = next(a for a in again.book.alerts if a.code == "EXITS_GONE")
    assert entry.intent_id in alert.message and "unprotected" in alert.message
    order = next(o for o in again.snapshot().orders if o.intent_id == entry.intent_id)
    assert [leg_status(order, leg)[0] for leg in order.legs] == ["CANCELLED"]
    assert again.book.positions["AAPL"].quantity == 10
    await again.stop()


async def test_exits_gone_while_connected_and_unheard_are_raised_not_shown_working(
    tmp_path: Path,
) -> None:
    """The broker stopped working a position's stop while deskgate was connected, and the
    message saying so never arrived. Before, only a restart looked for missing exits: the
    periodic reconciliation agreed, the engine stayed ACTIVE, and the Orders panel said the
    stop worked over a position nothing protected."""
    engine, broker, clock = await started_engine(tmp_path)
    entry = make_intent(clock, limit="100.00", stop_loss="99.90")
    assert (await engine.propose(entry)).accepted
    assert (await approve_pending(engine, entry.intent_id)).ok
    broker.fill(order_ref_for(entry.intent_id), 10, "100.00")
    await eventually(lambda: engine.book.records[entry.intent_id].state is LifecycleState.MANAGED)
    broker.drop_silently(order_ref_for(entry.intent_id, OrderLeg.STOP_LOSS))

    await engine.reconcile("periodic")
    (drift,) = engine.book.drifts.values()
    assert drift_line(drift) == (
        f"stop/target gone at broker {order_ref_for(entry.intent_id)}: "
        "engine working stop · position 10 AAPL / broker missing stop"
    )
    assert drift.severity.value == "CRITICAL"
    assert engine.book.trading_state is TradingState.REDUCING  # no new risk until resolved
    adopted = await engine.resolve_drift(drift.drift_id, DriftResolution.ENGINE_CORRECTED, "seen")
    assert adopted.ok, adopted.message
    order = next(o for o in engine.snapshot().orders if o.intent_id == entry.intent_id)
    assert [leg_status(order, leg)[0] for leg in order.legs] == ["CANCELLED"]
    await engine.stop()
