"""Keys that cannot misfire: Escape closes everything, text is text, no double-tap approve."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from console.tui.app import DeskgateApp
from console.tui.screens.drift import DriftScreen
from console.tui.screens.main import MainScreen
from console.tui.screens.modals import (
    TYPED_BURST_S,
    ConfirmScreen,
    KillConfirmScreen,
    LiveAccountScreen,
    ReasonScreen,
)
from console.tui.screens.views import AuditScreen, GatesScreen, HelpScreen
from console.tui.widgets.approvals import ApprovalQueue
from console.tui.widgets.chrome import MessageLine
from console.tui.widgets.evidence import EvidencePanel
from console.tui.widgets.snapshot_table import TableFilter
from console.tui.widgets.tables import OrdersTable
from contracts.enums import DriftType, LifecycleState
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, plain, wait_for
from tests.console.fakes import FakeEngine


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def read_headline(pilot: Any, clock: ManualClock) -> None:
    """Keep the selected trade's headline on screen for the default dwell time (1 s)."""
    await pilot.pause()
    clock.advance(1.0)


def asks_to_quit(app: DeskgateApp) -> bool:
    screen = app.screen
    return isinstance(screen, ConfirmScreen) and screen.title_text == "QUIT"


def app_for(engine: FakeEngine, live_account_check: str | None = None) -> DeskgateApp:
    engine.started = False  # the app starts it
    return DeskgateApp(engine, config=engine.config, live_account_check=live_account_check)


async def started(pilot: object, app: DeskgateApp) -> None:
    await wait_for(pilot, lambda: on_screen(app))


def message_line(app: DeskgateApp) -> str:
    return plain(app.query_one(MessageLine).render(), width=300)


def working_engine(clock: ManualClock, *, drift: bool = False) -> FakeEngine:
    """Halted (so re-arm is offered), pending trades, a working order; a drift if asked."""
    engine = scenarios.halted(clock)
    engine.add_order("open-msft-01", LifecycleState.SUBMITTED, symbol="MSFT")
    if drift:
        engine.add_drift("d1", DriftType.POSITION_SIZE, "MSFT", {"quantity": "1"}, {})
    return engine


OPENERS: dict[str, tuple[tuple[str, ...], type[Screen[Any]]]] = {
    "help": (("question_mark",), HelpScreen),
    "gates": (("g",), GatesScreen),
    "audit": (("l",), AuditScreen),
    "drift": (("D",), DriftScreen),
    "reject": (("r",), ReasonScreen),
    "rearm": (("E",), ReasonScreen),
    "rollback": (("X",), ReasonScreen),
    "flatten": (("F",), ConfirmScreen),
    "kill": (("K",), KillConfirmScreen),
    "quit": (("q",), ConfirmScreen),
    "drift note": (("D", "b"), ReasonScreen),
}


@pytest.mark.parametrize("name", list(OPENERS))
async def test_escape_closes_every_screen_and_dialog(clock: ManualClock, name: str) -> None:
    engine = working_engine(clock, drift=name == "drift note")
    keys, kind = OPENERS[name]
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press(*keys)
        assert isinstance(app.screen, kind), name
        depth = len(app.screen_stack)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(app.screen_stack) == depth - 1)
        assert not isinstance(app.screen, kind) or name == "drift note"
        assert not any(c[0] in ("kill", "flatten", "rollback", "rearm") for c in engine.calls)


async def test_question_mark_closes_help(clock: ManualClock) -> None:
    app = app_for(scenarios.with_pending(clock))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


@pytest.mark.parametrize("name", list(OPENERS))
async def test_ctrl_q_reaches_the_quit_confirmation_from_every_screen(
    clock: ManualClock, name: str
) -> None:
    engine = working_engine(clock, drift=name == "drift note")
    keys, kind = OPENERS[name]
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press(*keys)
        assert isinstance(app.screen, kind)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: asks_to_quit(app))
        await pilot.press("ctrl+q")  # asking twice does not stack dialogs
        await pilot.press("n")
        await wait_for(pilot, lambda: not asks_to_quit(app))
        assert not engine.stopped


TEXT_BOXES: dict[str, tuple[str, ...]] = {
    "reject": ("r",),
    "rearm": ("E",),
    "rollback": ("X",),
    "drift note": ("D", "b"),
}


@pytest.mark.parametrize("name", list(TEXT_BOXES))
async def test_typing_kyle_said_no_in_a_text_box_never_kills(clock: ManualClock, name: str) -> None:
    engine = working_engine(clock, drift=name == "drift note")
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press(*TEXT_BOXES[name])
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"Kyle said no", "y", "K", "y")
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)
        assert app.screen.query_one(Input).value == "Kyle said noyKy"
        assert "ctrl+k = KILL" in str(app.screen.query_one("#dialog-hint").render())
        assert not any(c[0] == "kill" for c in engine.calls)
        await pilot.press("ctrl+k")  # the chord reaches the kill switch from a text box
        assert isinstance(app.screen, KillConfirmScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ReasonScreen)
        assert not any(c[0] == "kill" for c in engine.calls)


async def test_typing_kyle_in_the_live_account_box_never_kills(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine, live_account_check="DU1234567")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LiveAccountScreen)
        await pilot.press(*"Kyle said no", "y")
        await pilot.pause()
        assert isinstance(app.screen, LiveAccountScreen)
        assert app.screen.query_one(Input).value == "Kyle said noy"
        assert not any(c[0] == "kill" for c in engine.calls)


async def test_outside_text_boxes_k_is_one_key(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("K")
        assert isinstance(app.screen, KillConfirmScreen)
        await pilot.press("K")
        await wait_for(pilot, lambda: any(c[0] == "kill" for c in engine.calls))


async def test_kyle_typed_outside_a_text_box_does_not_kill(clock: ManualClock) -> None:
    """Nothing pending, so `r` opens no box: "Kyle" lands on the main screen. The K opens the
    kill dialog; the y typed right after it is refused as a typed burst, not a decision."""
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press(*"Kyle")
        await pilot.pause()
        assert isinstance(app.screen, KillConfirmScreen)
        assert not any(c[0] == "kill" for c in engine.calls)
        hint = plain(app.screen.query_one("#dialog-hint").render(), width=300)
        assert "typed, not read" in hint
        await pilot.press("y")  # a second, deliberate y is an answer
        await wait_for(pilot, lambda: any(c[0] == "kill" for c in engine.calls))


async def test_a_y_after_reading_the_kill_dialog_kills(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("K")
        clock.advance(2 * TYPED_BURST_S)
        await pilot.press("y")
        await wait_for(pilot, lambda: any(c[0] == "kill" for c in engine.calls))


async def test_the_kill_dialog_accepts_only_its_confirming_keys(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await read_headline(pilot, clock)
        await pilot.press("K")
        assert isinstance(app.screen, KillConfirmScreen)
        await pilot.press("a", "r", "enter", "space", "F", "E", "g", "question_mark", "x", "1")
        await pilot.pause()
        assert isinstance(app.screen, KillConfirmScreen)
        assert [c for c in engine.calls if c[0] != "start"] == []
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: any(c[0] == "kill" for c in engine.calls))


async def approve_twice(
    app: DeskgateApp, pilot: object, clock: ManualClock, gap_s: float
) -> list[str]:
    """`a`, `gap_s` on the frozen clock, `a`: the intents the engine was asked to approve."""
    press: Callable[..., Awaitable[None]] = pilot.press  # type: ignore[attr-defined]
    await read_headline(pilot, clock)
    await press("a")
    await wait_for(pilot, lambda: app.selected_intent_id == "pullback-amd-04")
    clock.advance(gap_s)
    await press("a")
    await pilot.pause()  # type: ignore[attr-defined]
    return [str(c[1]) for c in scenarios_calls(app, "approve")]


def scenarios_calls(app: DeskgateApp, name: str) -> list[tuple[object, ...]]:
    engine = app.engine
    assert isinstance(engine, FakeEngine)
    return [c for c in engine.calls if c[0] == name]


async def test_a_double_tap_approves_only_the_trade_on_screen(clock: ManualClock) -> None:
    app = app_for(scenarios.with_pending(clock))
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        assert await approve_twice(app, pilot, clock, 0.4) == ["orb-aapl-03"]
        line = message_line(app)
        assert "approve refused" in line and "SELL 75 AMD" in line and "0.4s" in line
        await pilot.pause()
        clock.advance(0.6)
        await pilot.press("a")
        await wait_for(pilot, lambda: len(scenarios_calls(app, "approve")) == 2)
        assert scenarios_calls(app, "approve")[1][1] == "pullback-amd-04"


async def test_the_dwell_time_comes_from_config(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    engine.config = engine.config.model_copy(
        update={"console": engine.config.console.model_copy(update={"approve_dwell_s": 0.0})}
    )
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        approved = await approve_twice(app, pilot, clock, 0.0)
        await wait_for(pilot, lambda: len(scenarios_calls(app, "approve")) == 2)
        assert approved[0] == "orb-aapl-03"


async def test_approve_is_refused_while_the_headline_is_on_another_tab(clock: ManualClock) -> None:
    app = app_for(scenarios.with_pending(clock))
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("2")  # positions tab: the trade is not on screen
        await read_headline(pilot, clock)
        await pilot.press("a")
        await pilot.pause()
        assert scenarios_calls(app, "approve") == []
        assert "not on screen" in message_line(app)


async def test_approve_and_reject_are_echoed_with_the_headline(clock: ManualClock) -> None:
    app = app_for(scenarios.with_pending(clock))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await read_headline(pilot, clock)
        await pilot.press("a")
        await wait_for(pilot, lambda: "submitted" in message_line(app))
        assert "BUY 50 AAPL LMT 187.20 (orb-aapl-03)" in message_line(app)
        await pilot.press("r", *"late", "enter")
        await wait_for(pilot, lambda: " reject " in message_line(app))
        assert "SELL 75 AMD LMT 158.40 (pullback-amd-04)" in message_line(app)


async def test_a_new_selection_shows_the_detail_from_the_top(clock: ManualClock) -> None:
    app = app_for(scenarios.with_pending(clock))
    async with app.run_test(size=(80, 18)) as pilot:  # the detail does not fit: it scrolls
        await started(pilot, app)
        panel = app.screen.query_one(EvidencePanel)
        await pilot.pause()
        panel.scroll_end(animate=False)
        await wait_for(pilot, lambda: panel.scroll_y > 0)
        await pilot.press("down")
        await wait_for(pilot, lambda: app.selected_intent_id == "pullback-amd-04")
        await wait_for(pilot, lambda: panel.scroll_y == 0)


async def test_the_footer_shows_rearm_only_while_halted(clock: ManualClock) -> None:
    engine = scenarios.halted(clock)
    engine.pending.clear()  # nothing else changes what approve shows
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await wait_for(pilot, lambda: "rearm" in footer_actions(app))
        await pilot.press("E", *"checked", "enter")
        await wait_for(pilot, lambda: any(c[0] == "rearm" for c in engine.calls))
        await wait_for(pilot, lambda: "rearm" not in footer_actions(app))


def footer_actions(app: DeskgateApp) -> set[str]:
    """The actions the footer on screen lights now (its keys, not the binding table)."""
    return {key.action for key in app.screen.query(FooterKey) if not key.has_class("-disabled")}


@pytest.mark.parametrize("approve_key", ["a", "enter", "backspace"])
async def test_the_approve_key_is_typing_while_the_filter_box_has_focus(
    clock: ManualClock, approve_key: str
) -> None:
    """Approve is taken where the key arrives, before the focused widget sees it: a text box
    on the main screen (the table filter) must still get its keys, the letter typed and
    enter or backspace editing, when the trader put approve on one of them."""
    engine = scenarios.with_pending(clock)  # a trade to approve, an order to filter
    keys = engine.config.console.keys.model_copy(update={"approve": approve_key})
    engine.config = engine.config.model_copy(
        update={"console": engine.config.console.model_copy(update={"keys": keys})}
    )
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("3")  # the Orders panel
        app.screen.query_one(OrdersTable).focus()
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.focused, TableFilter))
        await read_headline(pilot, clock)
        await pilot.press(*"ms", "a", "a", "backspace", "f", approve_key)
        await pilot.pause()
        assert scenarios_calls(app, "approve") == []
        box = app.screen.query_one(TableFilter)
        typed = {"a": "msafa", "enter": "msaf", "backspace": "msa"}[approve_key]
        assert box.value == typed
        if approve_key == "enter":  # the box's own enter: back to the table, filter kept
            assert isinstance(app.focused, OrdersTable)
        app.screen.query_one(ApprovalQueue).focus()  # out of the box, the key approves
        await read_headline(pilot, clock)
        await pilot.press(approve_key)
        await wait_for(pilot, lambda: len(scenarios_calls(app, "approve")) == 1)
