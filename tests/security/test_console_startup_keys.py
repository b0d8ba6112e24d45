"""Start-up: while the engine is still being built behind the first frame, no key reaches it.

The `deskgate` console paints its first frame before the engine exists (issue 14). Every key
of the console's that acts on the engine (approve, reject, kill, flatten...) pressed in that
window rings and says "engine starting…" in one line: no exception, no dialog, no engine call.
Once the engine is up the same keys work as always.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.screen import Screen

from console.tui.app import DeskgateApp
from console.tui.first_frame import ENGINE_STARTING
from console.tui.screens.main import MainScreen
from console.tui.screens.modals import KillConfirmScreen, LiveAccountScreen
from console.tui.startup import OpenedEngine, StartingScreen
from console.tui.widgets.status_bar import StatusBar
from contracts.config import Config
from contracts.enums import Mode
from engine.clock import ManualClock
from tests.console.conftest import plain, wait_for
from tests.console.fakes import FakeEngine

ENGINE_KEYS = ("a", "r", "K", "ctrl+k", "F", "R", "E", "X", "o", "n", "L", "P", "D", "g", "l")
"""Approve, reject, kill, the kill chord, flatten, reconcile, re-arm, rollback, reconnect,
ticket, limits, promote, drift, gates, audit: every default key of the console's actions."""


class HeldOpener:
    """An engine opener that hands the engine over only when the test says so."""

    def __init__(
        self,
        engine: FakeEngine,
        live_account_check: str | None = None,
        config: Config | None = None,
    ) -> None:
        self.engine = engine
        self.live_account_check = live_account_check
        self.config = config
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> OpenedEngine:
        self.asked.set()
        await self.release.wait()
        return OpenedEngine(self.engine, self.live_account_check, self.config)


def warnings(messages: list[Message]) -> list[str]:
    return [m.notification.message for m in messages if isinstance(m, Notify)]


async def test_keys_pressed_while_the_engine_is_built_say_so_and_reach_nothing() -> None:
    engine = FakeEngine(clock=ManualClock())
    opener = HeldOpener(engine)
    app = DeskgateApp(config=engine.config, opener=opener)
    messages: list[Message] = []
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, opener.asked.is_set)
        assert isinstance(app.screen, StartingScreen)
        for key in ENGINE_KEYS:
            await pilot.press(key)
        await pilot.pause()
        said = warnings(messages)
        assert len(said) == len(ENGINE_KEYS), said
        assert all(line.startswith(ENGINE_STARTING) and "\n" not in line for line in said)
        assert any("KILL works once the engine is up" in line for line in said)
        assert any("Approve works once the engine is up" in line for line in said)
        assert isinstance(app.screen, StartingScreen)  # no dialog, no other screen
        assert engine.calls == []  # nothing reached the engine
        assert not app.started

        opener.release.set()
        await wait_for(pilot, lambda: app.started and isinstance(app.screen, MainScreen))
        await pilot.press("K")  # once up, the kill key asks as always
        await wait_for(pilot, lambda: isinstance(app.screen, KillConfirmScreen))
    assert app.start_error is None


async def test_live_mode_shows_live_from_the_first_frame_and_starts_only_once_confirmed() -> None:
    engine = FakeEngine(clock=ManualClock(), mode=Mode.LIVE, config=Config(mode=Mode.LIVE))
    opener = HeldOpener(engine, live_account_check="U7654321")
    app = DeskgateApp(config=engine.config, opener=opener)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, opener.asked.is_set)
        bar = plain(app.screen.query_one(StatusBar).render(), width=400)
        assert "LIVE" in bar and "SIM" not in bar  # the first frame already says LIVE
        opener.release.set()
        await wait_for(pilot, lambda: isinstance(app.screen, LiveAccountScreen))
        await pilot.pause()
        assert ("start",) not in engine.calls and not app.started  # not before the typed id
        await pilot.press(*"U7654321", "enter")
        await wait_for(pilot, lambda: app.started)


async def test_quit_works_while_the_engine_is_built() -> None:
    engine = FakeEngine(clock=ManualClock())
    opener = HeldOpener(engine)
    app = DeskgateApp(config=engine.config, opener=opener)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, opener.asked.is_set)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)
    assert engine.calls == [] and not app.started


async def test_an_engine_that_cannot_be_built_ends_the_console_with_its_error() -> None:
    engine = FakeEngine(clock=ManualClock())

    async def refusing() -> Any:
        raise ValueError("the store is locked by a test")

    app = DeskgateApp(config=engine.config, opener=refusing)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: not app.is_running)
    assert isinstance(app.start_error, ValueError)
    assert app.return_code == 2


def badge(screen: Screen[Any]) -> str:
    return plain(screen.query_one(StatusBar).render(), width=400)


async def test_the_validated_config_the_opener_hands_over_sets_the_badge_and_the_keys() -> None:
    """The `deskgate` app is built with the mode read from the config file only; the validated
    config the opener hands over sets the badge (the starting screen's too) and the trader's
    keys before any key reaches the engine. (The two modes differ here only to see which one
    is shown: a file read and validated gives the same mode.)"""
    config = Config.model_validate({"mode": "live", "console": {"keys": {"kill": "j"}}})
    engine = FakeEngine(clock=ManualClock(), mode=Mode.LIVE, config=config)
    opener = HeldOpener(engine, config=config)
    app = DeskgateApp(mode=Mode.PAPER, opener=opener)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, opener.asked.is_set)
        assert "PAPER" in badge(app.screen) and app.has_class("-mode-paper")
        opener.release.set()
        await wait_for(pilot, lambda: app.started and isinstance(app.screen, MainScreen))
        assert app.config is config
        starting = app.screen_stack[0]
        assert isinstance(starting, StartingScreen)
        for screen in (starting, app.screen):
            assert "LIVE" in badge(screen) and "PAPER" not in badge(screen)
        assert app.has_class("-mode-live") and not app.has_class("-mode-paper")
        await pilot.press("j")  # the trader's kill key, from the handed-over config
        await wait_for(pilot, lambda: isinstance(app.screen, KillConfirmScreen))
    assert app.start_error is None


def test_the_app_needs_a_config_or_the_mode_to_show() -> None:
    async def never() -> OpenedEngine:
        raise AssertionError("not opened")

    with pytest.raises(TypeError):
        DeskgateApp(opener=never)
    with pytest.raises(TypeError):
        DeskgateApp(FakeEngine(clock=ManualClock()))
