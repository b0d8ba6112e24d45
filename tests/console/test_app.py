"""Pilot tests of the console against the scripted fake engine."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.tui.app import DeskgateApp
from console.tui.messages import EngineChanged
from console.tui.screens.main import MainScreen
from console.tui.screens.modals import (
    TYPED_BURST_S,
    KillConfirmScreen,
    LiveAccountScreen,
    ReasonScreen,
)
from console.tui.screens.views import AuditScreen, GatesScreen
from console.tui.widgets.tables import OrdersTable
from contracts.config import Config, ConsoleConfig, KeysConfig
from contracts.enums import LifecycleState, TradingState
from engine.bus import StateChanged
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import evidence_text, on_screen, read_headline, status_text, wait_for
from tests.console.fakes import FakeEngine, make_intent


def app_for(engine: FakeEngine, live_account_check: str | None = None) -> DeskgateApp:
    engine.started = False  # the app starts it
    return DeskgateApp(engine, config=engine.config, live_account_check=live_account_check)


async def started(pilot: object, app: DeskgateApp) -> None:
    await wait_for(pilot, lambda: on_screen(app))


async def test_app_starts_engine_and_shows_pending_trade(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert ("start",) in engine.calls
        assert app.selected is not None
        assert app.selected.intent.intent_id == "orb-aapl-03"
        text = evidence_text(app)
        assert "BUY" in text and "50 AAPL" in text
        assert "APPROVE" in text and "ready" in text
        assert app.blocker is None


async def test_approve_calls_engine_with_token(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await read_headline(pilot, clock)
        await pilot.press("a")
        await wait_for(pilot, lambda: any(c[0] == "approve" for c in engine.calls))
        assert ("approve", "orb-aapl-03", "tok-orb-aapl-03") in engine.calls
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.pending) == 1)
        assert app.selected is not None
        assert app.selected.intent.intent_id == "pullback-amd-04"


async def test_cursor_selects_which_trade_is_approved(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("down")
        await wait_for(pilot, lambda: app.selected_intent_id == "pullback-amd-04")
        assert "75 AMD" in evidence_text(app)
        await read_headline(pilot, clock)
        await pilot.press("a")
        await wait_for(pilot, lambda: any(c[0] == "approve" for c in engine.calls))
        assert engine.calls[-1][1] == "pullback-amd-04"


async def test_expired_token_makes_approve_unavailable(clock: ManualClock) -> None:
    engine = scenarios.expired(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert app.blocker is None
        clock.advance(5)  # past the 3 s left on the token
        await wait_for(pilot, lambda: app.blocker == "approval token expired")  # next tick
        assert app.check_action("approve", ()) is None  # greyed out, still visible
        assert "APPROVE UNAVAILABLE" in evidence_text(app)
        assert "expired" in evidence_text(app)
        await read_headline(pilot, clock)
        await pilot.press("a")
        await pilot.pause()
        assert not any(c[0] == "approve" for c in engine.calls)


async def test_risk_denial_is_shown_with_its_reason(clock: ManualClock) -> None:
    engine = scenarios.risk_denied(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert app.blocker is not None
        assert "risk 22.50 > 15.00" in app.blocker
        text = evidence_text(app)
        assert "APPROVE UNAVAILABLE" in text
        assert "✗ max risk per trade: risk 22.50 > 15.00" in text
        assert app.check_action("approve", ()) is None
        await read_headline(pilot, clock)
        await pilot.press("a")
        await pilot.pause()
        assert not any(c[0] == "approve" for c in engine.calls)


async def test_reject_with_reason(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("r")
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"late entry")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(c[0] == "reject" for c in engine.calls))
        assert ("reject", "orb-aapl-03", "late entry") in engine.calls
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.pending) == 1)


async def test_reject_escape_does_nothing(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("r", "escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert not any(c[0] == "reject" for c in engine.calls)


async def test_kill_needs_exactly_one_confirming_key(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("K")
        assert isinstance(app.screen, KillConfirmScreen)
        assert not any(c[0] == "kill" for c in engine.calls)
        await pilot.press("K")
        await wait_for(pilot, lambda: any(c[0] == "kill" for c in engine.calls))
        await wait_for(
            pilot,
            lambda: app.snapshot is not None and app.snapshot.trading_state is TradingState.HALTED,
        )
        assert "HALTED" in status_text(app)
        assert "broker-confirmed" in status_text(app)
        assert app.blocker is not None  # the kill voided the pending trade: nothing to approve
        assert app.snapshot.pending == ()
        assert app.check_action("approve", ()) is None


async def test_kill_works_from_inside_a_modal_with_text_input(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("r")  # the reject dialog, its input focused
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("ctrl+k")  # K is text in a text box; the chord kills
        assert isinstance(app.screen, KillConfirmScreen)
        clock.advance(2 * TYPED_BURST_S)  # read, then confirm
        await pilot.press("y")
        await wait_for(pilot, lambda: any(c[0] == "kill" for c in engine.calls))


async def test_kill_escape_cancels(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("K", "escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert not any(c[0] == "kill" for c in engine.calls)


async def test_rearm_after_halt_needs_a_typed_reason(clock: ManualClock) -> None:
    engine = scenarios.halted(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert app.check_action("rearm", ()) is True
        await pilot.press("E")
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("enter")  # empty reason refused
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"checked broker")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(c[0] == "rearm" for c in engine.calls))
        assert ("rearm", "checked broker", "trader") in engine.calls
        await wait_for(pilot, lambda: app.blocker is None)


async def test_flatten_and_reconcile(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("F", "y")
        await wait_for(pilot, lambda: any(c[0] == "flatten" for c in engine.calls))
        await pilot.press("R")
        await wait_for(pilot, lambda: ("reconcile",) in engine.calls)


async def test_keys_come_from_config(clock: ManualClock) -> None:
    keys = KeysConfig(approve="x", reject="z", kill="X", rollback="B")
    engine = scenarios.with_pending(clock)
    engine.config = Config(console=ConsoleConfig(keys=keys))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await read_headline(pilot, clock)
        await pilot.press("a")
        await pilot.pause()
        assert not any(c[0] == "approve" for c in engine.calls)
        await pilot.press("x")
        await wait_for(pilot, lambda: any(c[0] == "approve" for c in engine.calls))
        await pilot.press("X")
        assert isinstance(app.screen, KillConfirmScreen)


async def test_quit_confirms_while_orders_are_working(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)  # one SUBMITTED order
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("q", "y")
        await wait_for(pilot, lambda: ("stop",) in engine.calls)


async def test_quit_without_working_orders_stops_engine(fake_engine: FakeEngine) -> None:
    app = app_for(fake_engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("q")
        await wait_for(pilot, lambda: ("stop",) in fake_engine.calls)


async def test_live_start_requires_the_account_id(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine, live_account_check="U7654321")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LiveAccountScreen)
        await pilot.press(*"U1111111", "enter")
        await pilot.pause()
        assert isinstance(app.screen, LiveAccountScreen)
        assert ("start",) not in engine.calls
        assert "does not match" in str(app.screen.query_one("#dialog-error").render())
        await pilot.press(*"U7654321", "enter")
        await started(pilot, app)
        assert ("start",) in engine.calls


async def test_live_start_escape_exits_without_starting(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine, live_account_check="U7654321")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_code == 2
    assert ("start",) not in engine.calls


async def test_slow_broker_never_blocks_a_keystroke(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    engine.command_delay = 3.0
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        main = app.screen
        assert isinstance(main, MainScreen)
        await read_headline(pilot, clock)
        await pilot.press("a")
        await wait_for(pilot, lambda: any(c[0] == "approve" for c in engine.calls))
        await pilot.press("3")  # switch to the orders tab while approve is in flight
        assert main.active == 2
        assert main.query_one(OrdersTable).display
        assert app.blocker == "approval in flight"


async def test_bus_bursts_coalesce(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    messages: list[object] = []
    app = app_for(engine)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await started(pilot, app)
        before = sum(isinstance(m, EngineChanged) for m in messages)
        for _ in range(500):
            engine.bus.publish(StateChanged("quote"))
        engine.add_pending(make_intent("late-arrival", clock=clock))
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.pending) == 3)
        await pilot.pause(0.3)
        changed = sum(isinstance(m, EngineChanged) for m in messages) - before
        assert 1 <= changed < 20


async def test_an_order_event_is_not_held_behind_price_frames(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("console.tui.bus_feed.QUOTE_THROTTLE_S", 30.0)  # a very long price hold
    engine = scenarios.with_pending(clock)
    messages: list[object] = []
    app = app_for(engine)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await started(pilot, app)
        engine.bus.publish(StateChanged("quote"))  # held: a refresh was posted at the start
        await pilot.pause(0.1)
        assert not any(isinstance(m, EngineChanged) and "quote" in m.reasons for m in messages)
        engine.bus.publish(StateChanged("fill"))  # arrives while price frames are held
        await wait_for(
            pilot,
            lambda: any(isinstance(m, EngineChanged) and "fill" in m.reasons for m in messages),
            timeout=3,
        )


async def test_a_price_change_right_after_an_order_waits_for_the_price_hold(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh for an order shows the prices of its moment: the quote that follows it
    (within a millisecond at 1,000/s) must not queue a second whole-screen refresh ahead of
    the order's frame, but wait as price frames do; a fill still goes at once."""
    monkeypatch.setattr("console.tui.bus_feed.QUOTE_THROTTLE_S", 30.0)
    engine = scenarios.with_pending(clock)
    messages: list[object] = []
    app = app_for(engine)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await started(pilot, app)
        await pilot.pause(0.2)
        changes = [m for m in messages if isinstance(m, EngineChanged)]
        engine.bus.publish(StateChanged("order"))
        await wait_for(
            pilot,
            lambda: any(isinstance(m, EngineChanged) and "order" in m.reasons for m in messages),
        )
        engine.bus.publish(StateChanged("quote"))
        await pilot.pause(0.3)
        after = [m for m in messages if isinstance(m, EngineChanged)][len(changes) :]
        assert [set(m.reasons) for m in after] == [{"order"}]  # old code: then {"quote"}
        engine.bus.publish(StateChanged("fill"))
        await wait_for(
            pilot,
            lambda: any(isinstance(m, EngineChanged) and "fill" in m.reasons for m in messages),
            timeout=3,
        )


async def test_countdown_ticks_live(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert "token 4:32" in evidence_text(app)
        clock.advance(12)  # no engine event: only the app's 1 s timer can notice
        await wait_for(pilot, lambda: "token 4:20" in evidence_text(app), timeout=3)


async def test_stalled_order_stands_out(clock: ManualClock) -> None:
    engine = scenarios.stalled(clock)
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("3")  # hidden panels are filled when they come into view
        table = app.screen.query_one(OrdersTable)
        first = table.get_row_at(0)
        assert "STALLED" in str(first[0])
        assert "1m35s" in str(first[1])
        assert "STALLED" in str(app.screen.query_one("#tabs").render())
        await pilot.pause()
        assert engine.orders[-1].state is LifecycleState.STALLED


async def test_kill_works_from_the_gates_and_audit_screens(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("g")
        assert isinstance(app.screen, GatesScreen)
        await pilot.press("a")  # approve is a main-screen action only
        await pilot.pause()
        assert not any(c[0] == "approve" for c in engine.calls)
        await pilot.press("l")
        assert isinstance(app.screen, AuditScreen)
        await pilot.press("K", "K")
        await wait_for(pilot, lambda: any(c[0] == "kill" for c in engine.calls))
        await wait_for(pilot, lambda: "HALTED" in status_text(app))
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_engine_start_failure_is_shown_and_the_console_keeps_running(
    clock: ManualClock,
) -> None:
    class Failing(FakeEngine):
        async def start(self) -> None:
            raise ConnectionRefusedError("gateway 127.0.0.1:4002 refused")

    engine = Failing(clock=clock)
    app = DeskgateApp(engine, config=engine.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.phase.startswith("start failed"))
        await wait_for(pilot, lambda: "refused" in status_text(app))  # screens watch the state
        assert app.check_action("approve", ()) is None
        await pilot.press("K")
        assert isinstance(app.screen, KillConfirmScreen)  # the kill switch is still there


async def test_disconnect_makes_approve_unavailable_and_marks_orders_unknown(
    clock: ManualClock,
) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert app.blocker is None
        engine.connection = replace(engine.connection, connected=False)
        engine.publish("disconnected")
        await wait_for(pilot, lambda: app.blocker == "broker disconnected")
        assert "DISCONNECTED" in status_text(app)
        assert app.check_action("approve", ()) is None
