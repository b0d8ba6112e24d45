"""The scripted intents and the passing risk checks the console's fake engine serves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from contracts.enums import OrderType, Regime, Side
from contracts.events import CheckOutcome
from contracts.intent import CheckResult, Evidence, Instrument, Intent, OrderParams, PositionSizing
from engine.clock import ManualClock

D = Decimal

STANDARD_CHECKS: tuple[tuple[str, str], ...] = (
    ("max risk per trade", "risk 15.00 <= 15.00"),
    ("stop distance", "10 ticks <= 12"),
    ("trades per day", "0 of 2 used"),
    ("daily loss", "0.00 of 30.00"),
    ("consecutive losses", "0 of 2"),
    ("price collar", "0.1% from last"),
    ("quote fresh", "quote 1s old"),
)


def passing_checks() -> tuple[CheckOutcome, ...]:
    return tuple(CheckOutcome(name=n, passed=True, detail=d) for n, d in STANDARD_CHECKS)


def make_intent(
    intent_id: str = "demo-001",
    *,
    clock: ManualClock,
    symbol: str = "AAPL",
    side: Side = Side.BUY,
    quantity: str = "50",
    limit: str = "187.20",
    stop_loss: str = "187.10",
    take_profit: str = "187.40",
    quality: float = 82.0,
    state_age_s: float = 42.0,
    strategy: str = "orb-v2",
    red_checks: tuple[CheckResult, ...] | None = None,
    kill_flags: tuple[str, ...] = (),
) -> Intent:
    """A fixed, realistic intent whose evidence timestamps come from `clock`."""
    entry, stop = D(limit), D(stop_loss)
    per_share = abs(entry - stop)
    return Intent(
        intent_id=intent_id,
        strategy=strategy,
        order=OrderParams(
            instrument=Instrument(symbol=symbol, tick_size=D("0.01"), multiplier=D(1)),
            side=side,
            quantity=D(quantity),
            order_type=OrderType.LIMIT,
            limit_price=entry,
            stop_loss=stop,
            take_profit=D(take_profit),
        ),
        state_hash="s" * 16,
        state_ts=clock.now() - timedelta(seconds=state_age_s),
        regime=Regime.NORMAL,
        evidence=Evidence(
            setup_quality=quality,
            quality_breakdown={"trend": 30.0, "volume": 25.0, "structure": 27.0},
            htf_alignment=True,
            ltf_alignment=True,
            risk_parameters={"risk_usd": D("15"), "stop_ticks": D("10")},
            red_checks=red_checks
            if red_checks is not None
            else (
                CheckResult(name="spread ok", passed=True, detail="1 tick"),
                CheckResult(name="no halt", passed=True),
                CheckResult(name="no news 15m", passed=True),
            ),
            state_freshness_s=state_age_s,
            sizing=PositionSizing(
                account_equity=D("100000"),
                risk_fraction=(D(quantity) * per_share / D("100000")).normalize(),
                risk_budget=D(quantity) * per_share,
                per_share_risk=per_share,
                computed_quantity=D(quantity),
            ),
            active_kill_flags=kill_flags,
        ),
    )
