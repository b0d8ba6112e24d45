"""Futures are capped by their own notional key; the stock notional cap is unchanged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts.broker import Quote
from contracts.config import RiskConfig, StaleConfig
from contracts.enums import DenialReason as R
from contracts.intent import Instrument, Intent
from engine.clock import ManualClock
from engine.instruments import Resolution
from engine.risk import RiskContext, pre_trade_checks
from tests.support import make_intent, stock_facts
from tests.unit.engine.test_risk import ctx

CLOCK = ManualClock()
MES = Instrument(
    symbol="MES",
    sec_type="FUT",
    exchange="CME",
    tick_size=Decimal("0.25"),
    multiplier=Decimal(5),
    con_id=1,
    expiry="20261218",
)
MES_FACTS = Resolution(
    stock_facts(
        "MES",
        con_id=1,
        sec_type="FUT",
        exchange="CME",
        multiplier=Decimal(5),
        min_tick=Decimal("0.25"),
        expiry=date(2026, 12, 18),
    )
)
MES_QUOTE = Quote(symbol="MES", bid=Decimal("5699.75"), ask=Decimal("5700.25"), ts=CLOCK.now())


def mes_intent(quantity: int, stop: str = "5697.00") -> Intent:
    base = make_intent(CLOCK, symbol="MES", quantity=quantity, limit="5700.00", stop_loss=stop)
    order = base.order.model_copy(update={"instrument": MES})
    return base.model_copy(update={"order": order})


def denied(intent: Intent, context: RiskContext, risk: RiskConfig) -> set[R]:
    checks = pre_trade_checks(intent, context, risk, StaleConfig())
    return {c.reason for c in checks if not c.passed and c.reason}


def test_one_mes_at_twelve_ticks_passes_the_default_caps():
    # 1 x 5,700 x 5 = $28,500 notional; 12 ticks x $1.25 = $15 at risk.
    assert denied(mes_intent(1), ctx(quote=MES_QUOTE, instrument=MES_FACTS), RiskConfig()) == set()


def test_futures_notional_above_their_cap_is_refused():
    risk = RiskConfig(max_risk_per_trade=Decimal(10**6), max_notional_futures=Decimal(100_000))
    assert R.MAX_NOTIONAL in denied(mes_intent(4), ctx(quote=MES_QUOTE, instrument=MES_FACTS), risk)


def test_the_stock_notional_cap_is_not_loosened():
    stock = make_intent(CLOCK, quantity=260, limit="100.00", stop_loss="99.99")
    assert R.MAX_NOTIONAL in denied(stock, ctx(), RiskConfig(max_risk_per_trade=Decimal(10**6)))


@pytest.mark.parametrize("value", ["0", "-1", "5000001"])
def test_the_futures_notional_cap_is_bounded(value: str):
    with pytest.raises(ValueError):
        RiskConfig(max_notional_futures=Decimal(value))
