"""The strategies panel: a tab only while the bot runs; modes, throttle, quarantine, DVS/EQS,
the last decision and the journal's newest lines. Pictures in `snapshots/` (looked at)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static

from console.tui.app import DeskgateApp
from console.tui.screens.main import STRATEGIES
from console.tui.widgets.chrome import PanelTabs
from console.tui.widgets.strategies import StrategiesPanel
from engine.clock import ManualClock
from engine.strategy.manager import StrategyPanelView, StrategyStatus
from tests.console import scenarios
from tests.console.conftest import on_screen, wait_for
from tests.console.fakes import FakeEngine

WIDE = (120, 40)
SMALL = (80, 24)
VIEW = StrategyPanelView(
    rows=(
        StrategyStatus("K1", "LIVE", False, 0.0, "K1 skipped: tape not ranging", 0.97, 1.0),
        StrategyStatus(
            "K2", "SHADOW", True, 0.0, "K2 quarantined: 2 consecutive losses", 0.97, 1.0
        ),
        StrategyStatus(
            "K3",
            "LIVE",
            False,
            0.35,
            "K3 proposes buy 1 MES at 5,012.25, stop 5,009.50, target 5,018.00",
            0.97,
            1.0,
        ),
        StrategyStatus("K4", "OBSERVE", False, 0.0, "K4 (observe) would sell 1 MES", 0.97, 1.0),
        StrategyStatus("K5", "LIVE", False, 0.0, "", 0.41, 0.45),
    ),
    journal=(
        "2026-11-30 15:02 MES [LIVE] K3 proposes buy 1 MES at 5,012.25 (risk $13.75)",
        "2026-11-30 15:01 MES [SHADOW] K2 quarantined: 2 consecutive losses",
        "2026-11-30 15:01 MES [SHADOW] K2 closed short 1 MES at 5,015.00 (stop): -$15.62",
        "2026-11-30 14:58 MES [LIVE] K1 skipped: tape not ranging (efficiency 0.71)",
    ),
)


class BotEngine(FakeEngine):
    """The fake engine with the bot among its intent sources."""

    view = VIEW

    def strategy_panel(self) -> StrategyPanelView | None:
        return self.view


def bot_engine() -> FakeEngine:
    engine = scenarios.base(BotEngine(clock=ManualClock()))
    engine.started = False
    return engine


def app_for(engine: FakeEngine) -> DeskgateApp:
    return DeskgateApp(engine, config=engine.config, clock=engine.clock)


async def ready(pilot: Any) -> None:
    await wait_for(pilot, lambda: on_screen(pilot.app))
    await pilot.pause()


async def test_the_panel_shows_each_strategy_and_the_journal() -> None:
    app = app_for(bot_engine())
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        tabs = app.screen.query_one(PanelTabs)
        assert STRATEGIES in tabs.shown
        await pilot.press(str(STRATEGIES + 1))
        panel = app.screen.query_one(StrategiesPanel)
        await wait_for(pilot, lambda: panel.region.height > 0)
        table = panel.query_one(DataTable)
        assert table.row_count == 5
        cells = {str(c) for c in table.get_row("K2")}
        assert {"SHADOW", "QUARANTINED"} <= cells
        assert "+35% EUC" in {str(c) for c in table.get_row("K3")}
        k5 = table.get_row("K5")
        assert isinstance(k5[4], Text) and "red" in str(k5[4].style)  # DVS under the gate
        journal = str(panel.query_one("#strategies-journal", Static).render())
        assert journal.index("K3 proposes") < journal.index("K1 skipped")  # newest first
        assert "15:02" in journal and "2026-11-30" not in journal


async def test_the_panel_follows_the_bot() -> None:
    engine = bot_engine()
    app = app_for(engine)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        await pilot.press(str(STRATEGIES + 1))
        panel = app.screen.query_one(StrategiesPanel)
        quarantined = StrategyStatus("K1", "SHADOW", True, 0.2, "K1 quarantined", 0.9, 1.0)
        BotEngine.view = StrategyPanelView((quarantined,), ("2026-11-30 15:10 MES [x] y",))
        try:
            panel.refresh_view()
            assert "QUARANTINED" in {str(c) for c in panel.query_one(DataTable).get_row("K1")}
        finally:
            BotEngine.view = VIEW


async def test_without_the_bot_there_is_no_strategies_tab() -> None:
    app = app_for(scenarios.base(FakeEngine(clock=ManualClock())))
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        tabs = app.screen.query_one(PanelTabs)
        assert STRATEGIES not in tabs.shown
        before = app.screen.active  # type: ignore[attr-defined]
        await pilot.press(str(STRATEGIES + 1))
        assert app.screen.active == before  # type: ignore[attr-defined]
        assert not app.screen.query_one("#p-strategies").display or (
            app.screen.query_one("#p-strategies").region.height == 0
        )


def test_strategies_panel(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(bot_engine()), terminal_size=WIDE, run_before=ready, press=[str(STRATEGIES + 1)]
    )


def test_strategies_panel_80x24(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(bot_engine()), terminal_size=SMALL, run_before=ready, press=[str(STRATEGIES + 1)]
    )
