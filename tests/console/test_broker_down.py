"""Broker down: the real reason on screen, a key that retries now, the right mode badge, and
columns that fit when no trade is pending."""

from __future__ import annotations

from dataclasses import replace

from console.tui import format as fmt
from console.tui.app import DeskgateApp
from console.tui.widgets.status_bar import shown_mode
from console.tui.widgets.tables import PositionsTable
from contracts.enums import Mode
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, status_text, wait_for
from tests.console.fakes import FakeEngine
from tests.console.test_app import app_for, started


def test_a_refused_connect_is_not_called_a_closed_connection() -> None:
    wrapped = "TWS closed the connection: API connection failed: ConnectionRefusedError(111)"
    assert fmt.broker_reason(wrapped).startswith("connection refused")
    assert fmt.broker_reason("TWS stopped answering (heartbeat timeout)") == (
        "TWS stopped answering (heartbeat timeout)"
    )


async def test_the_disconnect_reason_is_in_the_status_bar(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(160, 40)) as pilot:
        await started(pilot, app)
        engine.connection = replace(
            engine.connection, connected=False, down_reason="TWS stopped answering"
        )
        engine.publish("disconnected")
        await wait_for(pilot, lambda: "TWS stopped answering" in status_text(app))
        assert "DISCONNECTED" in status_text(app)


async def test_o_retries_a_failed_start_at_once(clock: ManualClock) -> None:
    class RefusedOnce(FakeEngine):
        async def start(self) -> None:
            if not self.calls:
                self.calls.append(("start",))
                raise ConnectionRefusedError("Connect call failed ('127.0.0.1', 4002)")
            await super().start()

    engine = RefusedOnce(clock=clock)
    app = DeskgateApp(engine, config=engine.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.phase.startswith("start failed"))
        assert "connection refused" in app.phase
        assert app.check_action("reconnect", ()) is True
        await pilot.press("o")
        await wait_for(pilot, lambda: app.started)
        assert engine.calls.count(("start",)) == 2
        assert app.check_action("reconnect", ()) is False  # hidden once connected


def test_a_real_broker_is_never_badged_sim() -> None:
    engine = scenarios.with_pending(ManualClock())
    engine.started = True
    snap = engine.snapshot()
    assert shown_mode(Mode.SIM, snap) is Mode.SIM  # the simulator
    ibkr = replace(snap, connection=replace(snap.connection, broker="ibkr", is_paper=True))
    assert shown_mode(Mode.SIM, ibkr) is Mode.PAPER
    live = replace(ibkr, connection=replace(ibkr.connection, is_paper=False))
    assert shown_mode(Mode.SIM, live) is Mode.LIVE
    assert shown_mode(Mode.LIVE, ibkr) is Mode.LIVE


async def test_positions_fit_when_no_trade_is_pending(clock: ManualClock) -> None:
    for size in ((120, 40), (170, 45)):
        engine = scenarios.with_pending(clock)
        engine.pending.clear()
        app = app_for(engine)
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda app=app: on_screen(app))  # type: ignore[misc]
            await pilot.press("2")
            await pilot.pause()
            table = app.screen.query_one(PositionsTable)
            needed = sum(c.get_render_width(table) for c in table.columns.values())
            assert needed <= table.scrollable_content_region.width, size
            approvals = app.screen.query_one("#p-approvals")
            assert approvals.size.width < size[0] * 0.4, size
