"""Keys typed in a burst into a text box act in the order typed.

A terminal delivers a fast typist's keys (or a pasted key sequence) in one read. Textual
inserted each character as soon as the box took it, but ran backspace, the arrows and enter
only after the key had bubbled up to the app: `backspace backspace 5 enter` on a quantity of
100, meant as 15, became 1005, then 10, and 10 was sent. These attacks fail on the old code.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual import events

from console.tui.app import DeskgateApp
from console.tui.screens.ticket import TicketScreen
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import wait_for
from tests.console.test_app import app_for, started
from tests.console.test_limits_screen import open_limits, real_app


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def burst(app: DeskgateApp, *keys: str) -> None:
    """The keys as one terminal read delivers them: posted at once, nothing awaited between."""
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


async def test_a_burst_in_the_ticket_sends_the_quantity_typed(clock: ManualClock) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    engine.set_quote("KO", "60.10", "60.12")
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("n", *"KO", "tab", *"BUY", "tab", *"100", "tab", "tab")
        await pilot.press(*"60.11", "tab", *"60.00", "shift+tab", "shift+tab", "shift+tab")
        quantity: Any = app.screen.query_one("#t-quantity")
        await wait_for(pilot, lambda: quantity.has_focus)
        quantity.cursor_position = len(quantity.value)  # after the 100, nothing selected
        quantity.selection = quantity.selection.cursor(len(quantity.value))
        burst(app, "backspace", "backspace", "5", "enter")  # 100 -> 1 -> 15, then send
        await wait_for(pilot, lambda: any(c[0] == "propose_manual" for c in engine.calls))
        assert not isinstance(app.screen, TicketScreen)
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.pending)
        (pending,) = app.snapshot.pending
        assert pending.intent.order.quantity == Decimal(15), "the quantity typed was 15"


async def test_a_burst_after_a_tab_edits_the_next_field(clock: ManualClock) -> None:
    """Tab to a filled field (its text is selected), clear it and type: the new text stays."""
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("n", *"KO", "tab", *"BUY", "tab", *"100", "tab", "tab")
        await pilot.press(*"60.11", "tab", *"60.00", "tab", *"61.00")
        burst(app, "shift+tab", "shift+tab", *["backspace"] * 6, *"60.05", "tab")
        burst(app, *["backspace"] * 6, *"59.60")
        stop: Any = app.screen.query_one("#t-stop_loss")
        price: Any = app.screen.query_one("#t-price")
        await wait_for(pilot, lambda: stop.value == "59.60" and price.value == "60.05")


async def test_a_burst_sets_the_risk_limit_typed(tmp_path: Path, clock: ManualClock) -> None:
    app, engine = real_app(tmp_path, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_limits(pilot, app, "max_order_quantity")
        await pilot.press(*"300")
        burst(app, "backspace", "backspace", *"5", "enter")  # 300 -> 3 -> 35
        await wait_for(pilot, lambda: engine.config.risk.max_order_quantity != Decimal(500))
        assert engine.config.risk.max_order_quantity == Decimal(35)
