"""Snapshots of the order ticket and the quotes panel at 120x40 and 80x24 (looked at as PNGs:
`rsvg-convert`); frozen clock, scripted engine state."""

from __future__ import annotations

from typing import Any

from console.tui.app import DeskgateApp
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, wait_for
from tests.console.fakes import FakeEngine

WIDE = (120, 40)
SMALL = (80, 24)


def trading_day() -> FakeEngine:
    """The base day, KO and SPY configured for the quotes panel, every symbol quoted."""
    engine = scenarios.base(FakeEngine(clock=ManualClock()))
    console = engine.config.console.model_copy(update={"symbols": ("SPY", "KO")})
    engine.config = engine.config.model_copy(update={"console": console})
    engine.set_quote("SPY", "502.14", "502.16", publish=False)
    engine.set_quote("KO", "60.10", "60.12", publish=False)
    engine.set_quote("MSFT", "412.50", "412.55", publish=False)
    engine.set_quote("NVDA", "881.20", "881.35", publish=False)
    engine.started = False
    return engine


def app_for(engine: FakeEngine) -> DeskgateApp:
    return DeskgateApp(engine, config=engine.config, clock=engine.clock)


async def ready(pilot: Any) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: on_screen(app))
    await pilot.pause()


async def ticket_typed(pilot: Any) -> None:
    """A KO buy with its limit a half tick off the grid: the refusal names the nearest ticks."""
    await ready(pilot)
    await pilot.press("n", *"KO", "tab", *"BUY", "tab", *"100", "tab", "tab")
    await pilot.press(*"60.115", "tab", *"60.00", "tab", *"60.40")
    await wait_for(
        pilot, lambda: "nearest" in str(pilot.app.screen.query_one("#ticket-checks").render())
    )
    await pilot.pause()


def test_quotes_panel(snap_compare: Any) -> None:
    assert snap_compare(app_for(trading_day()), terminal_size=WIDE, run_before=ready)


def test_quotes_panel_80x24(snap_compare: Any) -> None:
    assert snap_compare(app_for(trading_day()), terminal_size=SMALL, run_before=ready)


def test_ticket(snap_compare: Any) -> None:
    assert snap_compare(app_for(trading_day()), terminal_size=WIDE, run_before=ticket_typed)


def test_ticket_80x24(snap_compare: Any) -> None:
    assert snap_compare(app_for(trading_day()), terminal_size=SMALL, run_before=ticket_typed)
