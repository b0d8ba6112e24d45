"""Pending history with reasons, acknowledged alerts, whole alert text, and panel zoom."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from console.tui.app import DeskgateApp
from console.tui.screens.main import MainScreen
from console.tui.widgets.chrome import PanelTabs
from console.tui.widgets.history import PendingHistory, history_text
from console.tui.widgets.status_bar import StatusBar
from console.tui.widgets.tables import AlertsTable, PositionsTable
from contracts.enums import AlertLevel, LifecycleState, OrderLeg
from engine.clock import ManualClock
from engine.view import LegView
from tests.console import scenarios
from tests.console.conftest import plain, wait_for
from tests.console.fakes import FakeEngine
from tests.console.test_app import app_for, started


def shown_history(app: DeskgateApp) -> str:
    return plain(history_text(app.screen.query_one(PendingHistory).history), width=400)


async def test_rejected_and_voided_trades_stay_visible_with_their_reason(
    clock: ManualClock,
) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert not app.screen.query_one(PendingHistory).display
        first = engine.pending[0].intent.intent_id
        await engine.reject(first, "Kyle said no")
        await wait_for(pilot, lambda: "Kyle said no" in shown_history(app))
        assert "REJECTED" in shown_history(app)
        assert engine.pending, "the scenario has a second pending trade for the kill to void"
        await engine.kill("test kill")
        await wait_for(pilot, lambda: "voided by the kill switch" in shown_history(app))
        assert app.screen.query_one(PendingHistory).display


def with_alerts(clock: ManualClock) -> FakeEngine:
    engine = scenarios.with_pending(clock)
    engine.alert(AlertLevel.WARNING, "QUOTE_STALE", "AAPL quote 42s old")
    engine.alert(AlertLevel.CRITICAL, "DISCONNECTED", "TWS stopped answering")
    return engine


def alert_badge(app: DeskgateApp) -> str:
    badge = app.screen.query_one(PanelTabs).badges.get(5)
    return badge[0] if badge else ""


async def test_space_acknowledges_an_alert_and_the_badge_counts_the_rest(
    clock: ManualClock,
) -> None:
    engine = with_alerts(clock)
    serious = sum(1 for a in engine.alerts if a.level is not AlertLevel.INFO)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await wait_for(pilot, lambda: alert_badge(app) == f"{serious}!")
        await pilot.press("6")
        assert app.screen.query_one(AlertsTable).has_focus
        await pilot.press("space")
        await wait_for(pilot, lambda: alert_badge(app) == f"{serious - 1}!")
        await pilot.press("down", "space")
        if serious > 2:
            await pilot.press("down", "space")
        await wait_for(pilot, lambda: alert_badge(app) in ("", f"{serious - 3}!"))


async def test_z_zooms_the_focused_panel_to_full_screen(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("2", "z")
        screen = app.screen
        assert isinstance(screen, MainScreen) and screen.has_class("-zoom")
        await pilot.pause()
        assert not screen.query_one("#p-approvals").display
        assert screen.query_one(PositionsTable).size.width > 110
        await pilot.press("z")
        await pilot.pause()
        assert screen.query_one("#p-approvals").display


async def test_the_orders_badge_counts_the_orders_working_at_the_broker_as_the_status_bar(
    clock: ManualClock,
) -> None:
    """A filled entry whose stop and target work is two orders at the broker: the tab said 1
    while the status bar said '2 working'."""
    engine = scenarios.with_pending(clock)
    engine.orders.clear()
    managed = engine.add_order("orb-msft-01", LifecycleState.MANAGED, filled="50")
    engine.orders[-1] = replace(
        managed,
        legs=(
            LegView(OrderLeg.STOP_LOSS, D("186.10"), D(0), None),
            LegView(OrderLeg.TAKE_PROFIT, D("189.40"), D(0), None),
        ),
    )
    engine.add_order("orb-aapl-02", LifecycleState.SUBMITTED)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        status = app.screen.query_one(StatusBar)
        await wait_for(pilot, lambda: "3 working" in plain(status.line()))
        assert app.screen.query_one(PanelTabs).badges.get(2, ("",))[0] == "3"  # old code: 2
