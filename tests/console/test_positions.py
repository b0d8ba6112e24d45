"""Positions: flat rows leave the list and the badge; flatten names what it will close."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from console.tui.app import DeskgateApp
from console.tui.screens.modals import ConfirmScreen
from console.tui.widgets.tables import PositionsTable
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, wait_for
from tests.console.fakes import FakeEngine


def with_a_flat_row(clock: ManualClock) -> FakeEngine:
    engine = scenarios.with_pending(clock)
    msft = engine.positions[0]
    engine.positions.append(replace(msft, symbol="TSLA", quantity=Decimal(0)))
    return engine


async def test_flatten_lists_the_open_positions_with_the_right_count(clock: ManualClock) -> None:
    engine = with_a_flat_row(clock)
    engine.started = False
    app = DeskgateApp(engine, config=engine.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        assert app.screen.query_one(PositionsTable).row_count == 1  # TSLA is flat
        await pilot.press("F")
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#dialog-body").render())
        assert "Close 1 open position at market" in body and "SELL 30 MSFT" in body
        assert "TSLA" not in body
