"""The risk limits screen (L) against the real engine: tighten at once, loosen with a reason,
bad input refused in one line, escape closes, capital letters are text."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from console.tui.app import DeskgateApp
from console.tui.screens.limits import LimitsScreen
from console.tui.screens.main import MainScreen
from console.tui.screens.modals import KillConfirmScreen
from contracts.events import LimitChanged, parse_event
from engine.clock import ManualClock
from engine.engine import Engine
from engine.limits import SETTABLE
from tests.console.conftest import on_screen, wait_for
from tests.support import FakeBroker, config_with


def real_app(tmp_path: Path, clock: ManualClock) -> tuple[DeskgateApp, Engine]:
    config = config_with()
    engine = Engine(config, FakeBroker(clock), data_dir=tmp_path, clock=clock)
    return DeskgateApp(engine, config=config, clock=clock), engine


def line(app: DeskgateApp, widget_id: str) -> str:
    return str(app.screen.query_one(widget_id, Static).render())


def limit_beads(engine: Engine) -> list[LimitChanged]:
    engine.recorder.flush()
    events = (parse_event(r.payload) for r in engine.store.tail(500))
    return [e for e in events if isinstance(e, LimitChanged)]


async def open_limits(pilot: Any, app: DeskgateApp, key: str) -> None:
    await wait_for(pilot, lambda: on_screen(app))
    await pilot.press("L")
    await wait_for(pilot, lambda: isinstance(app.screen, LimitsScreen))
    table = app.screen.query_one(DataTable)
    table.move_cursor(row=SETTABLE.index(key))
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen.query_one("#limit-value", Input).has_focus)


async def test_every_limit_is_listed_with_its_value(tmp_path: Path, clock: ManualClock) -> None:
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LimitsScreen))
        table = app.screen.query_one(DataTable)
        assert table.row_count == len(SETTABLE)
        rows = {
            str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(len(SETTABLE))
        }
        assert rows["max_order_quantity"] == str(engine.config.risk.max_order_quantity)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_tightening_applies_at_once_through_the_engine(
    tmp_path: Path, clock: ManualClock
) -> None:
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_limits(pilot, app, "max_order_quantity")
        await pilot.press(*"100", "enter")
        await wait_for(pilot, lambda: "changed" in line(app, "#limits-result"))
        assert engine.config.risk.max_order_quantity == Decimal(100)
        assert "max_order_quantity tightened: 500 -> 100" in line(app, "#limits-result")
        (bead,) = limit_beads(engine)
        assert bead.tightens and bead.actor == "console" and bead.new == "100"
        table = app.screen.query_one(DataTable)
        assert str(table.get_row_at(SETTABLE.index("max_order_quantity"))[1]) == "100"


async def test_loosening_asks_for_a_typed_reason(tmp_path: Path, clock: ManualClock) -> None:
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_limits(pilot, app, "max_trades_per_day")
        await pilot.press(*"10", "enter")
        await wait_for(pilot, lambda: app.screen.query_one("#limit-reason", Input).has_focus)
        assert "needs a reason" in line(app, "#limits-error")
        assert engine.config.risk.max_trades_per_day == 2 and limit_beads(engine) == []
        await pilot.press("enter")  # an empty reason changes nothing
        assert engine.config.risk.max_trades_per_day == 2
        await pilot.press(*"Kyle OKd a busy day", "enter")
        await wait_for(pilot, lambda: "changed" in line(app, "#limits-result"))
        assert engine.config.risk.max_trades_per_day == 10
        (bead,) = limit_beads(engine)
        assert not bead.tightens and bead.reason == "Kyle OKd a busy day"
        assert isinstance(app.screen, LimitsScreen)  # K in the reason was text, not a kill


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("abc", "valid decimal"),
        ("nan", "finite number"),
        ("-5", "greater than 0"),
        ("1e30", "less than or equal"),
        ("", "valid decimal"),
    ],
)
async def test_bad_input_gets_one_line_and_changes_nothing(
    tmp_path: Path, clock: ManualClock, value: str, says: str
) -> None:
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_limits(pilot, app, "max_notional")
        await pilot.press(*value, "enter")
        await wait_for(pilot, lambda: says in line(app, "#limits-error"))
        assert "\n" not in line(app, "#limits-error")
        assert engine.config.risk.max_notional == Decimal(25000)
        assert limit_beads(engine) == []
        assert isinstance(app.screen, LimitsScreen)


async def test_capital_k_is_text_and_the_chord_still_kills(
    tmp_path: Path, clock: ManualClock
) -> None:
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_limits(pilot, app, "max_position")
        await pilot.press(*"Kyle", "K")
        assert isinstance(app.screen, LimitsScreen)
        assert app.screen.query_one("#limit-value", Input).value == "KyleK"
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.screen, KillConfirmScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LimitsScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert engine.config.risk.max_position == Decimal(500)
