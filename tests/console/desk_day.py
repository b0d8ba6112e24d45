"""A busy trading day for the table tests: styled and bracketed orders, fills, a long audit log."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

from contracts.enums import AlertLevel, LifecycleState, OrderLeg, Side
from engine.clock import ManualClock
from engine.fill_journal import FillJournalRow
from engine.view import LegView, StyleView
from tests.console import scenarios
from tests.console.fakes import FakeEngine

LONG_REASON = (
    "AAPL buy 30 @ 190.60 refused by the venue: price is outside the exchange's limit-up/"
    "limit-down band for this symbol until 10:42 ET, resubmit inside the band or wait"
)
AUDIT_BEADS = 230


def fill(
    clock: ManualClock,
    intent_id: str,
    *,
    age_s: float,
    side: Side,
    quantity: str,
    price: str,
    leg: OrderLeg = OrderLeg.ENTRY,
    slippage_ticks: str | None = "1",
    commission: str | None = "1.00",
    symbol: str = "MSFT",
) -> FillJournalRow:
    ticks = D(slippage_ticks) if slippage_ticks is not None else None
    return FillJournalRow(
        ts=clock.now() - timedelta(seconds=age_s),
        intent_id=intent_id,
        strategy="manual",
        style="immediate",
        symbol=symbol,
        leg=leg,
        side=side,
        quantity=D(quantity),
        price=D(price),
        decision_price=D(price),
        touch_at_send=D(price),
        slippage_ticks=ticks,
        slippage_usd=ticks * D("0.01") * D(quantity) if ticks is not None else None,
        intent_to_submit_ms=2.0,
        submit_to_ack_ms=20.0,
        ack_to_fill_ms=40.0,
        commission=D(commission) if commission is not None else None,
    )


def busy_day(clock: ManualClock | None = None) -> FakeEngine:
    """The base day plus a twap working with its bracket, a finished bracket, fills and beads."""
    clock = clock or ManualClock()
    engine = scenarios.base(FakeEngine(clock=clock))
    managed = engine.orders[0]  # orb-msft-01, MANAGED: its bracket works at the broker
    engine.orders[0] = replace(
        managed,
        avg_fill_price=D("412.10"),
        legs=(
            LegView(OrderLeg.STOP_LOSS, D("410.90"), D(0), None),
            LegView(OrderLeg.TAKE_PROFIT, D("414.50"), D(0), None),
        ),
    )
    twap = engine.add_order(
        "twap-aapl-03", LifecycleState.SUBMITTED, age_s=42, requested="30", filled="12"
    )
    engine.orders[-1] = replace(
        twap,
        limit_price=D("190.40"),
        avg_fill_price=D("190.38"),
        style=StyleView(
            kind="twap",
            steps=3,
            working_quantity=D("18"),
            limit_price=D("190.40"),
            done=False,
            outcome="",
            last_step="slice 3: 6@190.40",
        ),
        legs=(LegView(OrderLeg.STOP_LOSS, D("189.20"), D(0), None),),
    )
    engine.add_order("old-nvda-01", LifecycleState.CANCELLED, age_s=900, symbol="NVDA")
    engine.fills = [
        fill(
            clock,
            "orb-tsla-00",
            age_s=3400,
            side=Side.BUY,
            quantity="10",
            price="242.00",
            symbol="TSLA",
            slippage_ticks="2",
        ),
        fill(
            clock,
            "orb-tsla-00",
            age_s=3000,
            side=Side.SELL,
            quantity="10",
            price="243.10",
            symbol="TSLA",
            leg=OrderLeg.TAKE_PROFIT,
            slippage_ticks="0",
        ),
        fill(
            clock,
            "orb-msft-01",
            age_s=1260,
            side=Side.BUY,
            quantity="30",
            price="412.10",
            slippage_ticks="-1",
        ),
        fill(
            clock,
            "twap-aapl-03",
            age_s=30,
            side=Side.BUY,
            quantity="12",
            price="190.38",
            symbol="AAPL",
            slippage_ticks=None,
            commission=None,
        ),
    ]
    engine.alert(AlertLevel.WARNING, "ORDER_REFUSED", LONG_REASON, age_s=20)
    for n in range(AUDIT_BEADS - len(engine.audit)):
        engine.bead("QUOTE_CHECK", None, f"check {n + 1}")
    return engine
