"""Each pre-trade check refuses what it should, with its reason code and numbers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from contracts.broker import Quote
from contracts.enums import DenialReason as R
from contracts.enums import OrderType, Regime, Side, TradingState
from engine.clock import ManualClock
from engine.risk import RiskContext
from tests.support import make_intent, risk_context, risk_denials

CLOCK = ManualClock()


def ctx(**kw: object) -> RiskContext:
    return risk_context(CLOCK, **kw)


denials = risk_denials


def test_a_good_intent_passes_every_check() -> None:
    assert denials(make_intent(CLOCK), ctx()) == set()


@pytest.mark.parametrize(
    ("intent_kw", "ctx_kw", "risk_kw", "reason"),
    [
        ({"quantity": 200, "stop_loss": "99.90"}, {}, {}, R.MAX_RISK_PER_TRADE),
        ({"stop_loss": "99.80"}, {}, {}, R.STOP_DISTANCE),
        ({"stop_loss": None}, {}, {}, R.STOP_REQUIRED),
        ({}, {"trades_today": 2}, {}, R.TRADES_PER_DAY),
        ({}, {"realized_pnl_today": Decimal(-30)}, {}, R.DAILY_LOSS_LIMIT),
        ({}, {"consecutive_losses": 2}, {}, R.CONSECUTIVE_LOSSES),
        ({"quantity": 600}, {}, {"max_risk_per_trade": 10**6}, R.MAX_ORDER_QUANTITY),
        ({"quantity": 300}, {}, {"max_risk_per_trade": 10**6}, R.MAX_NOTIONAL),
        ({}, {"quote": None}, {}, R.NO_QUOTE),
        ({"limit": "103.00", "stop_loss": "102.90"}, {}, {}, R.PRICE_COLLAR),
        ({}, {"position": Decimal(495)}, {}, R.POSITION_LIMIT),
        ({}, {"working_same_side": Decimal(495)}, {}, R.POSITION_LIMIT),
        ({}, {"recent_identical_s": 3.0}, {}, R.DUPLICATE_ORDER),
        ({"state_age_min": 31}, {}, {}, R.STATE_CONFLICT),
        ({"state_age_min": 16, "regime": Regime.HIGH_VOLATILITY}, {}, {}, R.STATE_CONFLICT),
        ({"state_age_min": 11, "regime": Regime.NEAR_NEWS}, {}, {}, R.STATE_CONFLICT),
        ({}, {"kill_flags": ("STATE_CONFLICT",)}, {}, R.KILL_FLAG),
        ({}, {"trading_state": TradingState.HALTED}, {}, R.HALTED),
        ({}, {"trading_state": TradingState.REDUCING}, {}, R.REDUCING_ONLY),
        ({}, {"connected": False}, {}, R.DISCONNECTED),
        ({}, {"strategy_live": False}, {}, R.STRATEGY_NOT_LIVE),
    ],
)
def test_each_check_refuses_with_its_reason(intent_kw, ctx_kw, risk_kw, reason) -> None:  # type: ignore[no-untyped-def]
    assert reason in denials(make_intent(CLOCK, **intent_kw), ctx(**ctx_kw), **risk_kw)


def test_stale_quote_refuses() -> None:
    old = Quote(
        symbol="AAPL",
        bid=Decimal("99.99"),
        ask=Decimal("100.01"),
        ts=CLOCK.now() - timedelta(seconds=30),
    )
    assert R.STALE_QUOTE in denials(make_intent(CLOCK), ctx(quote=old))


def test_market_order_is_valued_from_the_quote() -> None:
    intent = make_intent(CLOCK, order_type=OrderType.MARKET, quantity=260, stop_loss="99.99")
    found = denials(intent, ctx(), max_risk_per_trade=10**6)
    assert R.MAX_NOTIONAL in found  # 260 x 100.01 ask > 25,000


def test_risk_reducing_exit_bypasses_entry_only_gates() -> None:
    exit_ = make_intent(CLOCK, side=Side.SELL, stop_loss=None, state_age_min=60)
    found = denials(
        exit_,
        ctx(
            position=Decimal(10),
            kill_flags=("STATE_CONFLICT",),
            trades_today=2,
            trading_state=TradingState.REDUCING,
        ),
    )
    assert found == set()


def test_exit_larger_than_the_position_is_not_risk_reducing() -> None:
    flip = make_intent(CLOCK, side=Side.SELL, quantity=20, stop_loss=None)
    found = denials(flip, ctx(position=Decimal(10), trading_state=TradingState.REDUCING))
    assert R.REDUCING_ONLY in found
