"""A bracket entry that filled in part and had its remainder cancelled: the exits that stay at
the broker for the filled part are shown, counted and followed as working.

Before, the entry went to CANCELLED (a finished order): the Orders panel moved it to the
history with its stop and target DONE, the kill and quit dialogs counted no working order, and
the risk checks' count of working orders missed both, while the venue worked them. These
attacks fail on the old code.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from broker.sim.broker import SimBroker
from broker.sim.venue import SimVenue
from console.tui.state import orders_at_broker
from console.tui.widgets.tables import leg_status
from contracts.broker import order_ref_for
from contracts.config import Config
from contracts.enums import LifecycleState, OrderLeg
from contracts.intent import Intent
from engine.clock import ManualClock
from engine.engine import Engine
from engine.execution import ExecutionEvents
from tests.support import (
    FakeBroker,
    approve_pending,
    config_with,
    eventually,
    make_intent,
    started_engine,
)


async def part_filled_bracket(tmp_path: Path) -> tuple[Engine, FakeBroker, ManualClock, Intent]:
    """A 10-lot AAPL bracket entry with 4 filled, on the fake broker (which lists its exits)."""
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock, limit="100.00", stop_loss="99.90", take_profit="100.20")
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    broker.fill(order_ref_for(intent.intent_id), 4, "100.00")
    await eventually(lambda: engine.book.positions["AAPL"].quantity == 4)
    return engine, broker, clock, intent


async def test_a_part_filled_entry_cancelled_keeps_its_exits_working(tmp_path: Path) -> None:
    venue = SimVenue(seed=1)
    clock = ManualClock(venue.scheduler.now())
    engine = Engine(Config(), SimBroker(venue), data_dir=tmp_path, clock=clock)
    await engine.start()
    bid = venue.quote("AAPL").bid
    intent = make_intent(
        clock,
        limit=str(bid - Decimal("0.50")),
        stop_loss=str(bid - Decimal("0.60")),
        take_profit=str(bid + Decimal("0.40")),
    )
    assert (await engine.propose(intent)).accepted
    await eventually(lambda: engine.previews.waiting(intent.intent_id) is None)
    assert (await approve_pending(engine, intent.intent_id)).ok
    iid = intent.intent_id
    at_venue = {o.order_ref: o for o in venue.orders()}
    venue.force_fill(at_venue[order_ref_for(iid)].perm_id, Decimal(4))
    await eventually(lambda: engine.book.positions["AAPL"].quantity == 4)
    assert (await engine.cancel(iid, "the rest is not wanted")).ok
    rec = engine.book.records[iid]
    await eventually(lambda: rec.state is not LifecycleState.PENDING_CANCEL)
    exits = [o for o in venue.orders(open_only=True) if o.order_ref != order_ref_for(iid)]
    assert sorted(o.quantity for o in exits) == [4, 4]  # the venue works both, for the 4
    assert rec.state is LifecycleState.MANAGED
    order = next(o for o in engine.snapshot().orders if o.intent_id == iid)
    assert [leg_status(order, leg)[0] for leg in order.legs] == ["WORKING", "WORKING"]
    assert orders_at_broker(engine.snapshot()) == 2
    target = next(o for o in exits if o.order_ref == order_ref_for(iid, OrderLeg.TAKE_PROFIT))
    venue.force_fill(target.perm_id, Decimal(4))
    await eventually(lambda: rec.state is LifecycleState.CLOSED)
    assert engine.book.positions["AAPL"].quantity == 0
    await engine.stop()


async def test_exits_cancelled_before_the_entry_are_not_revived(tmp_path: Path) -> None:
    """A broker that cancels the children first: the entry stays CANCELLED, nothing working."""
    engine, broker, _, intent = await part_filled_bracket(tmp_path)
    iid = intent.intent_id
    broker.cancel_exits(iid)
    assert (await engine.cancel(iid, "the rest is not wanted")).ok  # confirmed at once
    await eventually(lambda: engine.book.records[iid].state is LifecycleState.CANCELLED)
    assert orders_at_broker(engine.snapshot()) == 0
    await engine.stop()


async def test_a_restart_finds_a_part_filled_entrys_exits_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine stopped with the entry CANCELLED after its part fill (as it recorded it
    before, or a crash between the two transitions) while the broker works its exits: the
    recovery at start marks them working."""
    engine, broker, clock, intent = await part_filled_bracket(tmp_path)
    iid = intent.intent_id
    monkeypatch.setattr(ExecutionEvents, "_exits_stay", lambda *_: False)  # as recorded before
    assert (await engine.cancel(iid, "the rest is not wanted")).ok
    await eventually(lambda: engine.book.records[iid].state is LifecycleState.CANCELLED)
    await engine.stop()
    monkeypatch.undo()

    assert order_ref_for(iid, OrderLeg.STOP_LOSS) in broker.working  # kept for the 4 filled
    restarted = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await restarted.start()
    await eventually(lambda: restarted.book.records[iid].state is LifecycleState.MANAGED)
    assert orders_at_broker(restarted.snapshot()) == 2
    await restarted.stop()
