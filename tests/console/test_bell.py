"""The bell rings for a new pending trade and for a token under 60 s, once each."""

from __future__ import annotations

from console.tui.app import DeskgateApp
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, wait_for
from tests.console.fakes import make_intent


async def test_the_bell_rings_once_per_new_trade_and_once_per_low_token(
    clock: ManualClock,
) -> None:
    engine = scenarios.with_pending(clock)  # AMD's token has 41 s left
    engine.started = False
    app = DeskgateApp(engine, config=engine.config, clock=clock)
    bells: list[str] = []
    app.bell = lambda: bells.append("ring")  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await wait_for(pilot, lambda: len(bells) == 1)  # two new trades, one low token: once
        clock.advance(1)
        engine.publish("tick")
        await pilot.pause()
        assert len(bells) == 1  # nothing new
        engine.add_pending(make_intent("late-msft-09", clock=clock, symbol="MSFT"))
        await wait_for(pilot, lambda: len(bells) == 2)
        clock.advance(250)  # AAPL's token (272 s) drops under 60 s
        engine.publish("tick")
        await wait_for(pilot, lambda: len(bells) == 3)
