"""Fixed engine states for snapshot tests and the demo: frozen clock, fixed ids, no randomness."""

from __future__ import annotations

from decimal import Decimal

from contracts.enums import (
    AlertLevel,
    DenialReason,
    DriftSeverity,
    DriftType,
    LifecycleState,
    Side,
    TradingState,
)
from contracts.events import CheckOutcome
from contracts.intent import CheckResult
from engine.clock import ManualClock
from engine.view import KillFlagView, LatencyView, PositionView
from tests.console.fakes import FakeEngine, make_intent, passing_checks

D = Decimal

LATENCY = LatencyView(
    intent_to_submit=tuple(2.0 + (i * 7 % 11) * 0.4 for i in range(60)),
    submit_to_ack=tuple(18.0 + (i * 5 % 13) * 2.5 for i in range(60)),
    ack_to_fill=tuple(40.0 + (i * 3 % 17) * 9.0 + (150 if i % 29 == 0 else 0) for i in range(60)),
)


def base(engine: FakeEngine) -> FakeEngine:
    """A trading day in progress: one position, a filled and a working order, history."""
    engine.started = True
    engine.positions = [
        PositionView(
            symbol="MSFT",
            quantity=D("30"),
            avg_price=D("412.10"),
            last=D("412.55"),
            unrealized_pnl=D("13.50"),
            realized_pnl=D("0"),
            fill_ratio=D("1"),
        ),
    ]
    engine.add_order(
        "orb-msft-01",
        LifecycleState.MANAGED,
        age_s=1260,
        symbol="MSFT",
        requested="30",
        filled="30",
        limit="412.10",
    )
    engine.add_order(
        "vwap-nvda-02",
        LifecycleState.SUBMITTED,
        age_s=14,
        symbol="NVDA",
        requested="20",
        filled="0",
        limit="131.05",
        side=Side.SELL,
    )
    engine.add_order(
        "orb-tsla-00",
        LifecycleState.CLOSED,
        age_s=3400,
        symbol="TSLA",
        requested="10",
        filled="10",
        limit="242.00",
    )
    engine.latency = LATENCY
    engine.trades_today = 1
    engine.realized_pnl_today = D("-4.20")
    engine.alert(AlertLevel.INFO, "RECONCILED", "positions and orders match the broker", age_s=300)
    engine.bead("ENGINE_STARTED", None, "sim broker, mode sim")
    engine.bead("FILL", "orb-msft-01", "filled 30 MSFT @ 412.10")
    return engine


def with_pending(clock: ManualClock | None = None, **kwargs: object) -> FakeEngine:
    """Main screen: one trade waiting for approval (the first-time user's view)."""
    clock = clock or ManualClock()
    engine = base(FakeEngine(clock=clock, **kwargs))  # type: ignore[arg-type]
    engine.add_pending(make_intent("orb-aapl-03", clock=clock), expires_in=272, publish=False)
    engine.add_pending(
        make_intent(
            "pullback-amd-04",
            clock=clock,
            symbol="AMD",
            side=Side.SELL,
            quantity="75",
            limit="158.40",
            stop_loss="158.60",
            take_profit="157.90",
            quality=64,
            strategy="pullback",
        ),
        expires_in=41,
        publish=False,
    )
    return engine


def with_market(clock: ManualClock | None = None) -> FakeEngine:
    """The pending buy limit sits 16c through the ask, and the bid is already under its stop."""
    engine = with_pending(clock)
    engine.set_quote("AAPL", "187.02", "187.04", publish=False)
    engine.set_quote("AMD", "158.38", "158.41", publish=False)
    return engine


def risk_denied(clock: ManualClock | None = None) -> FakeEngine:
    clock = clock or ManualClock()
    engine = base(FakeEngine(clock=clock))
    checks = (
        CheckOutcome(
            name="max risk per trade",
            passed=False,
            detail="risk 22.50 > 15.00",
            reason=DenialReason.MAX_RISK_PER_TRADE,
        ),
        *passing_checks()[1:],
    )
    engine.add_pending(
        make_intent("big-aapl-05", clock=clock, quantity="150"), checks=checks, publish=False
    )
    return engine


def expired(clock: ManualClock | None = None) -> FakeEngine:
    clock = clock or ManualClock()
    engine = base(FakeEngine(clock=clock))
    engine.add_pending(make_intent("late-aapl-06", clock=clock), expires_in=3, publish=False)
    return engine


def halted(clock: ManualClock | None = None) -> FakeEngine:
    clock = clock or ManualClock()
    engine = with_pending(clock)
    engine.trading_state = TradingState.HALTED
    engine.kill_confirmed = True
    engine.kill_flags = (
        KillFlagView(flag="KILL_SWITCH", reason="trader pressed K", expires_at=None),
    )
    engine.orders = [o for o in engine.orders if o.intent_id != "vwap-nvda-02"]
    engine.add_order(
        "vwap-nvda-02",
        LifecycleState.CANCELLED,
        age_s=3,
        symbol="NVDA",
        requested="20",
        limit="131.05",
        side=Side.SELL,
    )
    engine.alert(
        AlertLevel.CRITICAL,
        "KILL",
        "kill switch: HALTED by trader; 1 order cancelled, broker confirms none working",
    )
    return engine


def stalled(clock: ManualClock | None = None) -> FakeEngine:
    clock = clock or ManualClock()
    engine = base(FakeEngine(clock=clock))
    engine.add_order(
        "brk-meta-07",
        LifecycleState.STALLED,
        age_s=95,
        symbol="META",
        requested="12",
        limit="588.30",
    )
    engine.alert(AlertLevel.WARNING, "STALLED", "brk-meta-07: no broker ack after 60s", age_s=35)
    return engine


def drift(clock: ManualClock | None = None) -> FakeEngine:
    """Two unresolved drifts (a wrong broker position, an order typed in TWS): REDUCING."""
    clock = clock or ManualClock()
    engine = base(FakeEngine(clock=clock))
    engine.add_pending(
        make_intent(
            "orb-aapl-03",
            clock=clock,
            red_checks=(
                CheckResult(name="spread ok", passed=True, detail="1 tick"),
                CheckResult(name="no news 15m", passed=False, detail="CPI in 9 min"),
            ),
        ),
        expires_in=200,
        publish=False,
    )
    engine.add_drift(
        "d7c1a2b3e4f5",
        DriftType.FOREIGN_ORDER,
        "perm:555",
        {"known": "no"},
        {"status": "WORKING", "side": "BUY", "quantity": "5", "filled": "0", "symbol": "NVDA"},
        severity=DriftSeverity.HIGH,
        age_s=40,
        publish=False,
    )
    engine.add_drift(
        "a9f0e1d2c3b4",
        DriftType.POSITION_SIZE,
        "MSFT",
        {"quantity": "30", "fill_ratio": "30/30"},
        {"quantity": "40"},
        severity=DriftSeverity.CRITICAL,
        age_s=12,
        publish=False,
    )
    return engine


SCENARIOS = {
    "pending": with_pending,
    "denied": risk_denied,
    "expired": expired,
    "halted": halted,
    "stalled": stalled,
    "drift": drift,
}
