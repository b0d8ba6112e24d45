"""Outside text never reaches the terminal raw: controls escaped, markup shown as text."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from console.tui.app import DeskgateApp
from console.tui.screens.drift import DriftScreen
from console.tui.screens.modals import ReasonScreen
from console.tui.screens.views import AuditScreen
from console.tui.widgets.tables import AlertsTable
from contracts.enums import AlertLevel, DriftType, LifecycleState
from engine.clock import ManualClock
from engine.results import CommandResult
from engine.view import PendingApproval
from tests.console import scenarios
from tests.console.conftest import on_screen, wait_for
from tests.console.fakes import FakeEngine

CONTROLS = "".join(chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)))
"""Every C0 control (ESC, BEL, CR, LF...), DEL and every C1 control (CSI 0x9b, OSC 0x9d...)."""
ATTACK = "s\x1b]0;PWNED\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\x1b[5m"
MARKUP = "[/][bold red]M[/bold red][link=http://x]L[/link][@click=app.quit]Q[/]"
EVIL = ATTACK + CONTROLS + MARKUP
UNPRINTABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
"""Any control but the newline between screen lines."""
STYLE_OR_MOVE = re.compile(r"\x1b\[[0-9;:]*[mH]|\r\n|\n")
"""What the console itself sends: colours (SGR) and cursor moves."""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def evil_pending(pending: PendingApproval) -> PendingApproval:
    intent = pending.intent
    order = intent.order
    evidence = intent.evidence.model_copy(
        update={"notes": EVIL, "quality_breakdown": {EVIL: 1.0}, "active_kill_flags": (EVIL,)}
    )
    instrument = order.instrument.model_copy(update={"symbol": "AAPL" + ATTACK})
    return replace(
        pending,
        intent=intent.model_copy(
            update={
                "strategy": EVIL,
                "evidence": evidence,
                "order": order.model_copy(update={"instrument": instrument}),
            }
        ),
    )


def evil_engine(clock: ManualClock) -> FakeEngine:
    """Outside text everywhere: intent fields, evidence, broker, alerts, audit, drift."""
    engine = scenarios.with_pending(clock)
    engine.pending[0] = evil_pending(engine.pending[0])
    engine.connection = replace(engine.connection, account_id="DU1" + EVIL, broker="ib" + EVIL)
    engine.positions = [replace(engine.positions[0], symbol="MSFT" + EVIL)]
    engine.add_order("ord" + EVIL, LifecycleState.SUBMITTED, symbol="NVDA" + EVIL)
    engine.alert(AlertLevel.WARNING, "BROKER" + EVIL, "TWS said " + EVIL)
    engine.bead("FILL" + EVIL, "intent" + EVIL, EVIL)
    engine.add_drift("d" + EVIL, DriftType.POSITION_SIZE, "MSFT" + EVIL, {EVIL: EVIL}, {EVIL: EVIL})

    async def broker_error() -> CommandResult:
        return CommandResult(False, "broker: " + EVIL)

    engine.reconcile_now = broker_error  # type: ignore[method-assign]
    return engine


def app_for(engine: FakeEngine) -> DeskgateApp:
    engine.started = False
    return DeskgateApp(engine, config=engine.config, clock=engine.clock)


def rendered(app: DeskgateApp) -> tuple[str, str]:
    """The screen as the compositor renders it: the visible text, and the terminal bytes."""
    update = app.screen._compositor.render_full_update()
    text = "\n".join("".join(strip.text for strip in line) for line in update.strips)
    return text, update.render_segments(app.console)


def assert_clean(app: DeskgateApp, *, expect: str = "\\x1b") -> None:
    text, terminal = rendered(app)
    assert not UNPRINTABLE.findall(text), sorted(set(UNPRINTABLE.findall(text)))
    raw = UNPRINTABLE.findall(STYLE_OR_MOVE.sub("", terminal))
    assert not raw, sorted(set(raw))
    assert expect in text  # the attack is shown escaped, not dropped silently


async def test_outside_text_is_escaped_on_the_main_screen(clock: ManualClock) -> None:
    app = app_for(evil_engine(clock))
    async with app.run_test(size=(200, 60)) as pilot:  # tiled: every panel on screen
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.pause()
        assert_clean(app)
        # Alerts wrap in full: the newest (the drift's) fills the small panel, so bring the
        # broker's alert (the second row) into view.
        app.screen.query_one(AlertsTable).move_cursor(row=1, animate=False)
        await pilot.pause()
        assert_clean(app)
        text, _ = rendered(app)
        assert "[link=http://x]L[/link][@click=app.quit]Q[/]" in text  # markup is shown, not obeyed
        for fragment in ("BROKERs\\x1b", "MSFTs\\x1b", "NVDAs\\x1b", "FILLs\\x1b"):
            assert fragment in text, fragment


async def test_every_control_character_is_escaped_in_the_evidence(clock: ManualClock) -> None:
    app = app_for(evil_engine(clock))
    async with app.run_test(size=(400, 80)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.pause()
        text, _ = rendered(app)
        compact = text.replace(" ", "")
        for char in CONTROLS:
            assert f"\\x{ord(char):02x}" in compact, hex(ord(char))


async def test_a_broker_error_is_escaped_in_the_message_line_and_toast(clock: ManualClock) -> None:
    app = app_for(evil_engine(clock))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.press("R")
        await wait_for(pilot, lambda: "broker: s\\x1b" in rendered(app)[0])
        assert_clean(app)


async def test_outside_text_is_escaped_at_80x24(clock: ManualClock) -> None:
    app = app_for(evil_engine(clock))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        for panel in "1234567":
            await pilot.press(panel)
            await pilot.pause()
            assert_clean(app, expect="")


async def test_outside_text_is_escaped_on_the_drift_and_audit_screens(clock: ManualClock) -> None:
    app = app_for(evil_engine(clock))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DriftScreen))
        await pilot.pause()
        assert_clean(app)
        await pilot.press("b")  # the resolution dialog quotes the drift
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonScreen))
        await pilot.pause()
        assert_clean(app)
        await pilot.press("escape", "escape", "l")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        await pilot.pause()
        assert_clean(app)


async def test_the_reject_dialog_escapes_the_headline(clock: ManualClock) -> None:
    app = app_for(evil_engine(clock))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonScreen))
        await pilot.pause()
        assert_clean(app)


async def test_an_engine_start_error_is_escaped(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)

    async def failing_start() -> None:
        raise RuntimeError(EVIL)

    engine.start = failing_start  # type: ignore[method-assign]
    app = app_for(engine)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: "start failed" in app.phase)
        await wait_for(pilot, lambda: "start failed" in rendered(app)[0])  # screens watch state
        assert_clean(app)
