"""The demo intent source: a strategy plugin proposing plausible bracketed trades from quotes."""

from __future__ import annotations

import asyncio
import itertools
import random
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from contracts.enums import OrderType, Regime, Side
from contracts.intent import (
    CheckResult,
    Evidence,
    Instrument,
    Intent,
    OrderParams,
    PositionSizing,
)
from engine.intake import Propose

if TYPE_CHECKING:
    from engine.engine import Engine

DEMO_SYMBOLS = ("AAPL", "MSFT", "NVDA", "SPY")
FIRST_DELAY_S = 2.0
PERIOD_S = 45.0
STOP_TICKS = 10
TARGET_TICKS = 20


def demo_intent(
    intent_id: str,
    instrument: Instrument,
    bid: Decimal,
    ask: Decimal,
    engine: Engine,
    rng: random.Random,
) -> Intent:
    """A limit entry at the touch, stop 10 ticks away, target 20, sized inside the risk limits."""
    risk = engine.config.risk
    side = Side.BUY if rng.random() < 0.6 else Side.SELL
    tick = instrument.tick_size or Decimal("0.01")
    entry = bid if side is Side.BUY else ask
    stop = entry - STOP_TICKS * tick * side.sign
    target = entry + TARGET_TICKS * tick * side.sign
    per_share = abs(entry - stop)
    budget = min(risk.max_risk_per_trade * Decimal("0.8"), Decimal(10))
    by_risk = (budget / per_share).to_integral_value(ROUND_DOWN)
    by_notional = (risk.max_notional * Decimal("0.8") / entry).to_integral_value(ROUND_DOWN)
    quantity = max(Decimal(1), min(by_risk, by_notional, risk.max_order_quantity))
    now = engine.clock.now()
    trend, volume, structure = (round(rng.uniform(15, 35), 1) for _ in range(3))
    spread_ticks = int((ask - bid) / tick)
    return Intent(
        intent_id=intent_id,
        strategy="demo-breakout",
        order=OrderParams(
            instrument=instrument,
            side=side,
            quantity=quantity,
            order_type=OrderType.LIMIT,
            limit_price=entry,
            stop_loss=stop,
            take_profit=target,
        ),
        state_hash=f"demo-{intent_id}",
        state_ts=now,
        regime=Regime.NORMAL,
        evidence=Evidence(
            setup_quality=trend + volume + structure,
            quality_breakdown={"trend": trend, "volume": volume, "structure": structure},
            htf_alignment=True,
            ltf_alignment=rng.random() < 0.8,
            risk_parameters={
                "stop_ticks": Decimal(STOP_TICKS),
                "target_ticks": Decimal(TARGET_TICKS),
                "reward_risk": Decimal(TARGET_TICKS) / Decimal(STOP_TICKS),
            },
            red_checks=(
                CheckResult(
                    name="spread", passed=spread_ticks <= 3, detail=f"{spread_ticks} ticks"
                ),
                CheckResult(name="no trading halt", passed=True, detail="venue open"),
                CheckResult(name="earnings window", passed=True, detail="none within 5 days"),
            ),
            state_freshness_s=0.0,
            sizing=PositionSizing(
                account_equity=Decimal(100000),
                risk_fraction=budget / Decimal(100000),
                risk_budget=budget,
                per_share_risk=per_share,
                computed_quantity=by_risk,
                formula="min(risk_budget / per_share_risk, 0.8 x max_notional / entry)",
            ),
        ),
    )


async def demo_source(propose: Propose, engine: Engine) -> None:
    """Propose a demo trade whenever nothing is waiting for the trader. Runs until cancelled."""
    rng = random.Random(engine.config.broker.seed)
    numbers = itertools.count(1)
    stamp = engine.clock.now().strftime("%Y%m%d%H%M%S")
    await asyncio.sleep(FIRST_DELAY_S)
    for symbol in itertools.cycle(DEMO_SYMBOLS):
        if not engine.snapshot().pending:
            instrument = Instrument(symbol=symbol)
            quote = await engine.watch_quote(instrument)
            if quote is not None and quote.bid and quote.ask:
                intent = demo_intent(
                    f"demo-{stamp}-{next(numbers)}", instrument, quote.bid, quote.ask, engine, rng
                )
                await propose(intent, "demo")
        await asyncio.sleep(PERIOD_S)
