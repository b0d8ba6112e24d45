"""Pilot tests of unresolved drift in the console: the banner, the drift screen, resolving."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from console.tui.app import DeskgateApp
from console.tui.screens.drift import DriftScreen
from console.tui.screens.main import MainScreen
from console.tui.screens.modals import TYPED_BURST_S, KillConfirmScreen, ReasonScreen
from console.tui.widgets.drift import DriftBanner, DriftTable, side_text
from contracts.config import Config, ConsoleConfig, KeysConfig
from contracts.enums import DriftResolution, DriftSeverity, DriftType, TradingState
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, plain, status_text, wait_for
from tests.console.fakes import FakeEngine

POSITION = "a9f0e1d2c3b4"  # the CRITICAL MSFT position drift: first row (most severe)
FOREIGN = "d7c1a2b3e4f5"  # the order typed in TWS: second row


def app_for(engine: FakeEngine) -> DeskgateApp:
    engine.started = False
    return DeskgateApp(engine, config=engine.config)


async def started(pilot: object, app: DeskgateApp) -> None:
    await wait_for(pilot, lambda: on_screen(app))


def resolves(engine: FakeEngine) -> list[tuple[str, ...]]:
    return [c for c in engine.calls if c[0] == "resolve_drift"]


def table_text(app: DeskgateApp) -> str:
    table = app.screen.query_one(DriftTable)
    return "\n".join(
        " ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)
    )


async def test_unresolved_drift_is_unmistakable_on_the_main_screen(clock: ManualClock) -> None:
    engine = scenarios.drift(clock)
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        status = status_text(app)
        assert "REDUCING" in status and "2 DRIFT" in status
        banner = app.screen.query_one(DriftBanner)
        assert banner.display
        text = plain(banner.render(), width=200)
        assert "2 DRIFT" in text and "D = resolve" in text
        assert "POSITION_SIZE MSFT: engine qty 30 / broker qty 40 (+1 more)" in text
        assert app.check_action("drift", ()) is True
        assert not app.check_action("rearm", ())  # drift is lifted by resolving, not re-arm
        assert app.blocker == "trading is REDUCING: only risk-reducing trades"


async def test_drift_screen_lists_every_drift_with_both_sides(clock: ManualClock) -> None:
    engine = scenarios.drift(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("D")
        assert isinstance(app.screen, DriftScreen)
        await wait_for(pilot, lambda: app.screen.query_one(DriftTable).row_count == 2)
        rows = table_text(app).splitlines()
        assert "CRIT" in rows[0] and "POSITION_SIZE" in rows[0] and "MSFT" in rows[0]
        assert "qty 30" in rows[0] and "qty 40" in rows[0] and "12s" in rows[0]
        # the order typed in TWS is shown as drift, with what the broker has
        assert "FOREIGN_ORDER" in rows[1] and "not ours" in rows[1]
        assert "BUY 5 NVDA WORKING" in rows[1] and "40s" in rows[1]
        screen = app.screen
        assert screen.selected is not None and screen.selected.drift_id == POSITION
        await pilot.press("down")
        assert screen.selected is not None and screen.selected.drift_id == FOREIGN
        detail = plain(screen.query_one("#drift-detail", Static).content, width=120)
        assert "not placed by deskgate" in detail and "BUY 5 NVDA WORKING" in detail
        guide = plain(screen.query_one("#drift-guide", Static).content, width=120)
        for word in ("ENGINE_CORRECTED", "BROKER_CORRECTED", "ACKNOWLEDGED", "adopts the broker"):
            assert word in guide
        await pilot.press("D")  # the drift key toggles back
        assert isinstance(app.screen, MainScreen)


@pytest.mark.parametrize(
    ("key", "resolution", "row"),
    [
        ("e", DriftResolution.ENGINE_CORRECTED, 0),
        ("b", DriftResolution.BROKER_CORRECTED, 1),
        ("k", DriftResolution.ACKNOWLEDGED, 1),
    ],
)
async def test_resolve_each_way_with_a_note(
    clock: ManualClock, key: str, resolution: DriftResolution, row: int
) -> None:
    engine = scenarios.drift(clock)
    app = app_for(engine)
    drift_id = [POSITION, FOREIGN][row]
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("D", *["down"] * row, key)
        assert isinstance(app.screen, ReasonScreen)
        assert resolution.value in str(app.screen.title_text)
        await pilot.press(*"checked in TWS", "enter")
        await wait_for(pilot, lambda: bool(resolves(engine)))
        assert resolves(engine) == [
            ("resolve_drift", drift_id, resolution.value, "checked in TWS", "trader")
        ]
        assert isinstance(app.screen, DriftScreen)  # back on the list, the result shown
        await wait_for(pilot, lambda: app.screen.query_one(DriftTable).row_count == 1)
        result = plain(app.screen.query_one("#drift-result", Static).content)
        assert "resolved" in result and drift_id in result
        assert "1 DRIFT" in status_text(app)


async def test_resolving_the_last_drift_lifts_reducing(clock: ManualClock) -> None:
    engine = scenarios.drift(clock)
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("D", "e", *"sold 10 in TWS", "enter")
        await wait_for(pilot, lambda: len(resolves(engine)) == 1)
        await wait_for(pilot, lambda: app.screen.query_one(DriftTable).row_count == 1)
        await pilot.press("k", *"manual hedge", "enter")
        await wait_for(pilot, lambda: len(resolves(engine)) == 2)
        await wait_for(pilot, lambda: "ACTIVE" in status_text(app))
        assert "DRIFT" not in status_text(app)
        assert app.screen.query_one("#drift-empty").display
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        assert not app.screen.query_one(DriftBanner).display


async def test_empty_note_is_refused_and_nothing_is_resolved(clock: ManualClock) -> None:
    engine = scenarios.drift(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("D", "e", "enter")
        assert isinstance(app.screen, ReasonScreen)
        assert "A note is required." in str(app.screen.query_one("#dialog-error").render())
        await pilot.press("space", "space", "enter")  # blanks are not a note either
        assert isinstance(app.screen, ReasonScreen)
        await pilot.pause()
        assert resolves(engine) == []
        assert len(engine.drifts) == 2


async def test_escape_backs_out_at_every_step_and_leaves_the_drift(clock: ManualClock) -> None:
    engine = scenarios.drift(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("D", "b", *"half a no")
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("escape")  # the note
        assert isinstance(app.screen, DriftScreen)
        await pilot.press("escape")  # the list
        assert isinstance(app.screen, MainScreen)
        await pilot.pause()
        assert resolves(engine) == []
        assert len(engine.drifts) == 2
        assert engine.trading_state is TradingState.REDUCING
        assert "2 DRIFT" in status_text(app)


async def test_kill_works_from_the_drift_screen_and_its_note_field(clock: ManualClock) -> None:
    engine = scenarios.drift(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("D", "K")
        assert isinstance(app.screen, KillConfirmScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DriftScreen)
        await pilot.press("e", *"typing K", "ctrl+k")  # K is text there; the chord kills
        assert isinstance(app.screen, KillConfirmScreen)
        clock.advance(2 * TYPED_BURST_S)  # read, then confirm
        await pilot.press("y")
        await wait_for(pilot, lambda: any(c[0] == "kill" for c in engine.calls))
        assert resolves(engine) == []


async def test_resolution_keys_do_nothing_without_drift(fake_engine: FakeEngine) -> None:
    app = app_for(fake_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("D")
        assert isinstance(app.screen, DriftScreen)
        assert app.screen.query_one("#drift-empty").display
        assert app.screen.check_action("resolve", ("ENGINE_CORRECTED",)) is None
        await pilot.press("e", "b", "k")
        assert isinstance(app.screen, DriftScreen)
        assert resolves(fake_engine) == []


async def test_a_refused_resolution_is_shown(clock: ManualClock) -> None:
    engine = scenarios.drift(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("D", "e")
        engine.drifts.clear()  # resolved elsewhere while the trader typed
        await pilot.press(*"late", "enter")
        await wait_for(pilot, lambda: bool(resolves(engine)))
        result = app.screen.query_one("#drift-result", Static)
        await wait_for(pilot, lambda: "not resolved" in plain(result.content))
        assert "no unresolved drift" in plain(result.content)


async def test_drift_key_comes_from_config(clock: ManualClock) -> None:
    engine = scenarios.drift(clock)
    engine.config = Config(console=ConsoleConfig(keys=KeysConfig(drift="x")))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("D")
        assert isinstance(app.screen, MainScreen)
        assert "x = resolve" in plain(app.screen.query_one(DriftBanner).render(), width=200)
        await pilot.press("x")
        assert isinstance(app.screen, DriftScreen)


async def test_drift_raised_while_running_shows_within_five_seconds(
    fake_engine: FakeEngine,
) -> None:
    app = app_for(fake_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        assert not app.screen.query_one(DriftBanner).display
        assert "DRIFT" not in status_text(app)
        fake_engine.add_drift(
            "new-1",
            DriftType.POSITION_SIZE,
            "AAPL",
            {"quantity": "10"},
            {"quantity": "7"},
            severity=DriftSeverity.CRITICAL,
        )
        await wait_for(pilot, lambda: "1 DRIFT" in status_text(app), timeout=5)
        assert app.screen.query_one(DriftBanner).display
        assert "REDUCING" in status_text(app)


def test_side_text_in_words() -> None:
    assert side_text({"known": "no"}) == "not placed by deskgate"
    assert side_text({"quantity": "30", "fill_ratio": "30/30"}) == "quantity 30 · fill ratio 30/30"
    assert side_text({"quantity": "30", "fill_ratio": "30/30"}, brief=True) == "qty 30"
    order = {"status": "WORKING", "side": "BUY", "quantity": "5", "filled": "2", "symbol": "X"}
    assert side_text(order) == "BUY 5 X WORKING filled 2"
    assert side_text({}) == "-"
