"""Snapshot tests: frozen clock, scripted engine state; SVGs live in `<repo>/snapshots/`.

Update only after looking at the picture: `pytest tests/console/test_snapshots.py
--snapshot-update`, then convert each SVG to PNG (`rsvg-convert`) and review it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from console.tui.app import DeskgateApp
from engine.clock import ManualClock
from engine.gates import GateResult, Verdict
from engine.view import EngineSnapshot
from tests.console import scenarios
from tests.console.conftest import on_screen, plain, wait_for
from tests.console.fakes import FakeEngine

WIDE = (120, 40)
BIG = (180, 50)
SMALL = (80, 24)


def app_for(engine: FakeEngine) -> DeskgateApp:
    engine.started = False
    return DeskgateApp(engine, config=engine.config, clock=engine.clock)


async def ready(pilot: Any) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: on_screen(app))
    await pilot.pause()


def test_main_screen_with_pending_trade(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.with_pending(ManualClock())), terminal_size=WIDE, run_before=ready
    )


def test_pending_trade_with_market(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.with_market(ManualClock())), terminal_size=WIDE, run_before=ready
    )


def test_pending_trade_with_market_80x24(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.with_market(ManualClock())), terminal_size=SMALL, run_before=ready
    )


def test_evidence_detail_risk_denied_all_panels(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.risk_denied(ManualClock())), terminal_size=BIG, run_before=ready
    )


def test_halted(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.halted(ManualClock())), terminal_size=WIDE, run_before=ready
    )


def test_small_terminal_80x24(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.with_pending(ManualClock())), terminal_size=SMALL, run_before=ready
    )


def test_drift_alert(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.drift(ManualClock())), terminal_size=SMALL, run_before=ready, press=["6"]
    )


def test_drift_screen(snap_compare: Any) -> None:
    """Two unresolved drifts: a wrong broker position and an order typed in TWS."""
    assert snap_compare(
        app_for(scenarios.drift(ManualClock())), terminal_size=WIDE, run_before=ready, press=["D"]
    )


def test_drift_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.drift(ManualClock())),
        terminal_size=SMALL,
        run_before=ready,
        press=["D", "down"],
    )


def test_stalled_order(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.stalled(ManualClock())),
        terminal_size=SMALL,
        run_before=ready,
        press=["3"],
    )


def test_help(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.with_pending(ManualClock())),
        terminal_size=WIDE,
        run_before=ready,
        press=["question_mark"],
    )


def test_kill_confirm(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.with_pending(ManualClock())),
        terminal_size=SMALL,
        run_before=ready,
        press=["K"],
    )


def test_gates_not_evaluated(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.with_pending(ManualClock())),
        terminal_size=SMALL,
        run_before=ready,
        press=["g"],
    )


class GatedEngine(FakeEngine):
    """Hands over go-live gate results the way the engine's snapshot carries them."""

    def snapshot(self) -> EngineSnapshot:
        return replace(
            super().snapshot(),
            gates=(
                GateResult(
                    1,
                    "artifacts",
                    Verdict.PASS,
                    "coverage 89.5%, fixtures present",
                    numbers=(("coverage", "89.5%"), ("fixtures", "2/2")),
                ),
                GateResult(2, "architecture", Verdict.PASS, "97 files, import direction holds"),
                GateResult(3, "interface", Verdict.PASS, "12 operations, 17 error codes mapped"),
                GateResult(4, "implementation", Verdict.PASS, "331 unit tests pass"),
                GateResult(5, "stage tests", Verdict.PASS, "every stage has tests and they pass"),
                GateResult(6, "account", Verdict.PASS, "DU1234567 PAPER, buying power 400000.00"),
                GateResult(
                    7,
                    "paper performance",
                    Verdict.FAIL,
                    "latency delta 268.0% >= 50%",
                    numbers=(("fill rate", "100.0%"), ("pacing violations", "0")),
                    failures=("latency delta 268.0% >= 50%",),
                    action="find the cause in PAPER_TRADING_LOG.json, then: deskgate paper",
                ),
                GateResult(
                    8,
                    "go-live",
                    Verdict.PENDING,
                    "gate 7 failed; sign-offs open",
                    missing=("sign-off: risk_officer", "sign-off: cto", "sign-off: lead_trader"),
                ),
            ),
        )


def test_gates_screen_with_verdicts(snap_compare: Any) -> None:
    clock = ManualClock()
    engine = scenarios.base(GatedEngine(clock=clock))
    assert snap_compare(app_for(engine), terminal_size=WIDE, run_before=ready, press=["g"])


def test_live_mode_account_modal(snap_compare: Any) -> None:
    from contracts.config import Config
    from contracts.enums import Mode

    clock = ManualClock()
    engine = scenarios.base(
        FakeEngine(clock=clock, mode=Mode.LIVE, config=Config(mode=Mode.LIVE, account="U7654321"))
    )
    engine.started = False
    app = DeskgateApp(
        engine,
        config=engine.config,
        clock=clock,
        live_account_check="U7654321",
    )

    async def before(pilot: Any) -> None:
        from console.tui.widgets.status_bar import StatusBar

        def status_bar_says_waiting() -> bool:  # the main screen behind the dialog
            bar = app.get_default_screen().query_one(StatusBar)
            return "waiting for live account" in plain(bar.render(), width=200)

        await wait_for(pilot, status_bar_says_waiting)
        await pilot.press(*"U1", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SMALL, run_before=before)


def with_history(clock: ManualClock) -> FakeEngine:
    """One trade rejected with a reason, one voided by a kill; trading halted."""
    engine = scenarios.with_pending(clock)
    engine.started = True
    first, second = (p for p in engine.pending[:2])
    engine.pending.remove(first)
    engine.end_pending(first, "REJECTED", "Kyle said no: spread too wide")
    engine.pending.remove(second)
    engine.end_pending(second, "VOIDED", "voided by the kill switch: kill switch (console)")
    return engine


def test_pending_history(snap_compare: Any) -> None:
    assert snap_compare(app_for(with_history(ManualClock())), terminal_size=WIDE, run_before=ready)


def test_pending_history_80x24(snap_compare: Any) -> None:
    assert snap_compare(app_for(with_history(ManualClock())), terminal_size=SMALL, run_before=ready)


def broker_down(clock: ManualClock) -> FakeEngine:
    engine = scenarios.with_pending(clock)
    engine.connection = replace(
        engine.connection,
        broker="ibkr",
        connected=False,
        down_reason="TWS closed the connection: API connection failed: ConnectionRefusedError()",
    )
    return engine


def test_broker_down_reason(snap_compare: Any) -> None:
    assert snap_compare(app_for(broker_down(ManualClock())), terminal_size=WIDE, run_before=ready)


def test_broker_down_reason_80x24(snap_compare: Any) -> None:
    assert snap_compare(app_for(broker_down(ManualClock())), terminal_size=SMALL, run_before=ready)


async def zoomed_orders(pilot: Any) -> None:
    await ready(pilot)
    await pilot.press("3", "z")
    await pilot.pause()


def test_zoomed_orders(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.stalled(ManualClock())), terminal_size=WIDE, run_before=zoomed_orders
    )
