"""Attacks on resuming execution styles after a restart: a forged, replayed or stale style
record never raises the quantity or the price past the approval, nor outlives its window."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.events import OrderModified
from tests.support import eventually
from tests.unit.engine.style_resume_support import (
    WORST,
    RestartDesk,
    alerts,
    approve_styled,
    steps,
)


async def test_a_forged_style_record_cannot_raise_the_quantity_or_price(tmp_path: Path) -> None:
    desk = RestartDesk(tmp_path)
    engine = await desk.start(sleeping=False)
    assert desk.broker is not None
    iid = await approve_styled(engine, desk.broker, "twap")
    assert await engine.styles.modify_entry(iid, limit_price=Decimal("99.95"), quantity=Decimal(4))
    real = steps(engine)[-1]
    ref = real.order_ref
    forged = [
        real.model_copy(update={"quantity": Decimal(50)}),  # far above the approved 10
        real.model_copy(update={"quantity": None, "limit_price": Decimal("120.00")}),
        real,  # the genuine step, replayed
        real.model_copy(update={"order_ref": "dg:other:ENTRY", "quantity": Decimal(9)}),
    ]
    for bead in forged:
        engine.recorder.emit(OrderModified(**{**bead.model_dump(), **engine.recorder.now_pair()}))
    await desk.stop()

    desk.clock.advance(700)
    engine = await desk.start()
    assert desk.broker is not None
    await eventually(lambda: engine.styles.progress[iid].done)
    sent = desk.broker.modifies
    assert sent and all(q is not None and q <= Decimal(10) for q, _ in sent)
    assert all(p is not None and p <= WORST for _, p in sent)
    assert desk.working.get(ref) is None  # the rest cancelled at the window's end
    assert desk.broker.submits == []  # no parent or child placed after the restart
    assert len(alerts(engine, "STYLE_RECORD_IGNORED")) == 3
    await desk.stop()


async def test_a_style_never_outlives_its_window_across_a_restart(tmp_path: Path) -> None:
    desk = RestartDesk(tmp_path)
    engine = await desk.start(sleeping=False)
    assert desk.broker is not None
    iid = await approve_styled(engine, desk.broker, "limit_patience")
    ref = engine.book.records[iid].order_ref
    await desk.stop()

    desk.clock.advance(24 * 3600.0)  # a day later: the patient order must not still rest
    engine = await desk.start()
    await eventually(lambda: engine.styles.progress[iid].done)
    assert ref not in desk.working
    assert "while the engine was down" in engine.styles.progress[iid].outcome
    await desk.stop()


async def test_a_broker_order_above_the_approval_is_not_worked(tmp_path: Path) -> None:
    desk = RestartDesk(tmp_path)
    engine = await desk.start(sleeping=False)
    assert desk.broker is not None
    iid = await approve_styled(engine, desk.broker, "twap")
    ref = engine.book.records[iid].order_ref
    assert ref is not None
    await desk.stop()
    desk.working[ref] = desk.working[ref].model_copy(update={"quantity": Decimal(40)})

    desk.clock.advance(700)
    engine = await desk.start()
    assert desk.broker is not None
    assert iid not in engine.styles.working
    assert desk.broker.modifies == []
    assert alerts(engine, "STYLE_NOT_RESUMED")
    await desk.stop()
