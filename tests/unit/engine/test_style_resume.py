"""Execution styles resume after a restart from their audited steps, on their original timeline."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.enums import LifecycleState
from engine.style_desk import NOT_RESUMED_HALTED
from tests.support import eventually
from tests.unit.engine.style_resume_support import RestartDesk, alerts, approve_styled


async def test_a_twap_resumes_catches_up_once_and_keeps_its_window(tmp_path: Path) -> None:
    desk = RestartDesk(tmp_path)
    engine = await desk.start(sleeping=False)
    assert desk.broker is not None
    iid = await approve_styled(engine, desk.broker, "twap")
    assert desk.broker.submits[-1].quantity == 2
    assert await engine.styles.modify_entry(iid, limit_price=Decimal("99.95"), quantity=Decimal(4))
    await desk.stop()

    desk.clock.advance(1300)  # slices at 600 (4), 1200 (6), 1800 (8), 2400 (10); end 3000
    engine = await desk.start()
    assert desk.broker is not None
    await eventually(lambda: engine.styles.progress[iid].done)
    progress = engine.styles.progress[iid]
    assert [q for q, _ in desk.broker.modifies] == [Decimal(6), Decimal(8), Decimal(10)]
    assert desk.waits == [500.0, 600.0, 600.0]  # the original timeline, not a new one
    assert progress.outcome == "window ended: rest cancelled"
    assert progress.history[0] == "resumed after a restart at 1300s"
    assert engine.book.records[iid].state is LifecycleState.CANCELLED
    assert alerts(engine, "STYLE_RESUMED")
    await desk.stop()


async def test_a_patient_limit_resumes_at_its_next_reprice_moment(tmp_path: Path) -> None:
    desk = RestartDesk(tmp_path)
    engine = await desk.start(sleeping=False)
    assert desk.broker is not None
    iid = await approve_styled(engine, desk.broker, "limit_patience")
    assert await engine.styles.modify_entry(iid, limit_price=Decimal("99.96"))
    await desk.stop()

    desk.clock.advance(650)  # reprices at 300, 600, 900 ... 3000; timeout at 3300
    engine = await desk.start()
    await eventually(lambda: engine.styles.progress[iid].done)
    progress = engine.styles.progress[iid]
    assert desk.waits[0] == 250.0 and sum(desk.waits) == 3300 - 650
    assert progress.limit_price == Decimal("99.96")  # the confirmed step, read back
    assert progress.steps == 1
    assert progress.outcome == "timed out: rest cancelled"
    await desk.stop()


async def test_a_window_that_ended_while_down_ends_the_style_and_says_so(tmp_path: Path) -> None:
    desk = RestartDesk(tmp_path)
    engine = await desk.start(sleeping=False)
    assert desk.broker is not None
    iid = await approve_styled(engine, desk.broker, "twap")
    await desk.stop()

    desk.clock.advance(4000)
    engine = await desk.start()
    assert desk.broker is not None
    await eventually(lambda: engine.styles.progress[iid].done)
    assert desk.broker.modifies == []  # no slice is sent after its window
    assert engine.styles.progress[iid].outcome == (
        "window ended while the engine was down: rest cancelled"
    )
    assert engine.book.records[iid].state is LifecycleState.CANCELLED
    await desk.stop()


async def test_a_halted_engine_resumes_nothing(tmp_path: Path) -> None:
    desk = RestartDesk(tmp_path)
    engine = await desk.start(sleeping=False)
    assert desk.broker is not None
    iid = await approve_styled(engine, desk.broker, "twap")
    desk.broker.cancel_all_works = False  # the kill is never confirmed: the order still works
    await engine.kill("test")
    await desk.stop()

    desk.clock.advance(700)
    engine = await desk.start()
    assert desk.broker is not None
    desk.broker.cancel_all_works = False
    assert engine.styles.working == ()
    assert engine.styles.progress[iid].outcome == NOT_RESUMED_HALTED
    assert desk.broker.modifies == []
    assert alerts(engine, "STYLE_NOT_RESUMED")
    await desk.stop()


async def test_slices_the_broker_already_holds_are_never_sent_again(tmp_path: Path) -> None:
    desk = RestartDesk(tmp_path)
    engine = await desk.start(sleeping=False)
    assert desk.broker is not None
    iid = await approve_styled(engine, desk.broker, "twap")
    ref = engine.book.records[iid].order_ref
    assert ref is not None
    await desk.stop()
    # the broker holds 8 (a step whose bead the crash took), the clock says slice 4 is due
    desk.working[ref] = desk.working[ref].model_copy(update={"quantity": Decimal(8)})

    desk.clock.advance(700)
    engine = await desk.start()
    assert desk.broker is not None
    await eventually(lambda: engine.styles.progress[iid].done)
    assert [q for q, _ in desk.broker.modifies] == [Decimal(10)]
    await desk.stop()
