"""`c` in the Orders panel cancels the selected working order after one confirming key."""

from __future__ import annotations

from decimal import Decimal

from console.tui.screens.modals import ConfirmScreen
from console.tui.widgets.chrome import MessageLine
from contracts.enums import LifecycleState
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, wait_for
from tests.console.test_app import app_for, started
from tests.console.test_app_engine import Desk, desk  # noqa: F401 (the real-engine fixture)
from tests.support import make_intent


async def test_c_cancels_the_selected_stalled_order_after_y(clock: ManualClock) -> None:
    engine = scenarios.stalled(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("3", "c")
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#dialog-body").render())
        assert "brk-meta-07" in body and "META" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: ("cancel", "brk-meta-07") in [c[:2] for c in engine.calls])
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and any(
                    o.intent_id == "brk-meta-07" and o.state is LifecycleState.CANCELLED
                    for o in app.snapshot.orders
                )
            ),
        )


async def test_c_then_escape_sends_nothing(clock: ManualClock) -> None:
    engine = scenarios.stalled(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("3", "c", "escape")
        await pilot.pause()
        assert not any(c[0] == "cancel" for c in engine.calls)


async def test_c_outside_the_orders_panel_cancels_nothing(clock: ManualClock) -> None:
    engine = scenarios.stalled(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("c")
        assert not isinstance(app.screen, ConfirmScreen)
        assert not any(c[0] == "cancel" for c in engine.calls)


async def test_c_cancels_a_resting_order_at_the_real_venue(desk: Desk) -> None:  # noqa: F811
    app = desk.app
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        limit = desk.venue.quote("AAPL").bid - Decimal("1.00")  # resting, not marketable
        intent = make_intent(
            desk.clock, intent_id="rest-c", limit=str(limit), stop_loss=str(limit - Decimal("0.1"))
        )
        assert (await desk.engine.propose(intent, source="test")).accepted
        pending = desk.engine.snapshot().pending[0]
        assert (await desk.engine.approve("rest-c", pending.token)).ok
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and any(o.intent_id == "rest-c" and o.state.is_working for o in app.snapshot.orders)
            ),
        )
        await pilot.press("3", "c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        message = app.screen.query_one(MessageLine)
        await wait_for(pilot, lambda: "cancel sent for rest-c" in message.text.plain)
        desk.advance(0.5)  # the venue confirms the cancel
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and any(
                    o.intent_id == "rest-c" and o.state is LifecycleState.CANCELLED
                    for o in app.snapshot.orders
                )
            ),
        )
