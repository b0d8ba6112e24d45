"""The console's pure logic: approve availability, formatting, keymap, gates, layout."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from console.tui import format as fmt
from console.tui.keymap import ACTIONS, keymap_from_config
from console.tui.screens.main import layout_for
from console.tui.state import approve_blocker
from console.tui.widgets.gates import GateVerdict, gates_from, render_gates
from console.tui.widgets.latency import summary
from contracts.config import KeysConfig
from contracts.enums import TradingState
from contracts.events import CheckOutcome
from engine.clock import ManualClock
from engine.results import CommandResult
from tests.console import scenarios
from tests.console.conftest import plain
from tests.console.fakes import make_intent


@pytest.fixture
def snap_and_pending(clock: ManualClock):  # type: ignore[no-untyped-def]
    engine = scenarios.with_pending(clock)
    snap = engine.snapshot()
    return snap, snap.pending[0]


def test_approve_available_when_everything_is_fine(snap_and_pending, clock) -> None:  # type: ignore[no-untyped-def]
    snap, pending = snap_and_pending
    assert approve_blocker(snap, pending, clock.monotonic(), CommandResult(True, "ok")) is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("halted", "HALTED"),
        ("reducing", "REDUCING"),
        ("disconnected", "disconnected"),
        ("expired", "expired"),
        ("denied", "risk denies: max risk: 22 > 15"),
        ("engine", "engine says no"),
        ("none", "no pending trade selected"),
        ("busy", "in flight"),
    ],
)
def test_approve_blocked_with_the_reason(snap_and_pending, clock, change, expected) -> None:  # type: ignore[no-untyped-def]
    snap, pending = snap_and_pending
    now = clock.monotonic()
    verdict = CommandResult(True, "ok")
    busy = False
    if change == "halted":
        snap = replace(snap, trading_state=TradingState.HALTED)
    elif change == "reducing":
        snap = replace(snap, trading_state=TradingState.REDUCING)
    elif change == "disconnected":
        snap = replace(snap, connection=replace(snap.connection, connected=False))
    elif change == "expired":
        now = pending.expires_monotonic + 1
    elif change == "denied":
        pending = replace(
            pending, checks=(CheckOutcome(name="max risk", passed=False, detail="22 > 15"),)
        )
    elif change == "engine":
        verdict = CommandResult(False, "engine says no")
    elif change == "none":
        pending = None
    elif change == "busy":
        busy = True
    blocker = approve_blocker(snap, pending, now, verdict, busy=busy)
    assert blocker is not None and expected in blocker


def test_reducing_allows_risk_reducing_trades(snap_and_pending, clock) -> None:  # type: ignore[no-untyped-def]
    snap, pending = snap_and_pending
    snap = replace(snap, trading_state=TradingState.REDUCING)
    intent = make_intent("reduce-1", clock=clock).model_copy(update={"reduces_risk": True})
    pending = replace(pending, intent=intent)
    assert approve_blocker(snap, pending, clock.monotonic(), None) is None


def test_formatting() -> None:
    assert fmt.countdown(272) == "4:32"
    assert fmt.countdown(0.4) == "0:01"
    assert fmt.countdown(0) == "expired"
    assert fmt.age(95) == "1m35s"
    assert fmt.age(3725) == "1h02m"
    assert fmt.duration(1800) == "30m"
    assert fmt.money(Decimal("1234.5"), signed=True) == "+1,234.50"
    assert fmt.money(Decimal("-4.2"), signed=True) == "-4.20"
    assert fmt.qty(Decimal("50.00")) == "50"
    assert fmt.qty(Decimal("0.5")) == "0.5"
    assert fmt.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert fmt.percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert fmt.percentile([], 50) is None


def test_latency_summary() -> None:
    assert summary(()) == "no samples yet"
    text = summary(tuple(float(i) for i in range(1, 101)))
    assert "p50 50" in text and "p95 95" in text and "p99 99" in text and "n=100" in text


def test_keymap_from_config_covers_every_action() -> None:
    keymap = keymap_from_config(KeysConfig(approve="x"))
    assert keymap["approve"] == "x"
    assert keymap["kill"] == "K"
    assert set(keymap) == {spec.id for spec in ACTIONS}


def test_gates_absent_means_not_evaluated(snap_and_pending) -> None:  # type: ignore[no-untyped-def]
    snap, _ = snap_and_pending
    assert gates_from(snap) is None
    assert "not evaluated" in plain(render_gates(None))


def test_gates_from_tuples_and_objects() -> None:
    class Gate:
        number = 2
        name = "drawdown"
        verdict = "FAIL"
        detail = "12%"

    class Source:
        gates = ((1, "paper days", "PASS", "34"), Gate())

    gates = gates_from(Source())
    assert gates == (
        GateVerdict(1, "paper days", "PASS", "34"),
        GateVerdict(2, "drawdown", "FAIL", "12%"),
    )
    text = plain(render_gates(gates))
    assert "PASS" in text and "FAIL" in text and "1/2 gates pass" in text


@pytest.mark.parametrize(
    ("size", "layout"),
    [
        ((80, 24), "-compact"),
        ((100, 40), "-compact"),
        ((120, 40), "-split"),
        ((200, 60), "-tiled"),
        ((200, 30), "-split"),
    ],
)
def test_layout_by_terminal_size(size: tuple[int, int], layout: str) -> None:
    assert layout_for(*size) == layout


def test_exchange_time_names_the_us_session() -> None:
    from datetime import UTC, datetime

    from console.tui.format import exchange_time

    assert exchange_time(datetime(2026, 3, 2, 14, 30, 5, tzinfo=UTC)) == "09:30:05 ET open"
    assert exchange_time(datetime(2026, 3, 2, 12, 0, tzinfo=UTC)) == "07:00:00 ET pre"
    assert exchange_time(datetime(2026, 3, 2, 21, 0, tzinfo=UTC)) == "16:00:00 ET post"
    assert exchange_time(datetime(2026, 3, 2, 2, 0, tzinfo=UTC)) == "21:00:00 ET closed"
    assert exchange_time(datetime(2026, 3, 7, 15, 0, tzinfo=UTC)).endswith("ET closed")  # Sat


def test_histograms_of_one_or_two_samples_have_whole_counts_from_zero() -> None:
    from console.tui.widgets.latency import count_ticks, histogram

    centers, counts = histogram((23759.0,))
    assert counts == [1] and 0 < centers[0] <= 23759.0
    centers, counts = histogram((3.0, 5.0))
    assert sum(counts) == 2 and all(c > 0 for c in centers)
    assert all(isinstance(c, int) for c in counts)
    assert count_ticks(1) == [0, 1] and count_ticks(2) == [0, 1, 2]
    assert count_ticks(40) == [0, 10, 20, 30, 40]
