"""The fill journal (slippage, latency legs, commission per fill) and the slippage reconciler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from contracts.broker import OrderRequest, Quote, order_ref_for
from contracts.enums import OrderLeg, OrderType, Side
from contracts.events import (
    AuditedEvent,
    CommissionRecorded,
    FillRecorded,
    IntentReceived,
    OrderAcknowledged,
    OrderSubmitting,
)
from engine.clock import ManualClock
from engine.fill_journal import fill_journal, reconcile_slippage
from tests.support import make_intent

T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def at(ms: float) -> dict[str, datetime]:
    ts = T0 + timedelta(milliseconds=ms)
    return {"ts_event": ts, "ts_init": ts}


def trade(
    iid: str,
    side: Side,
    limit: str | None,
    fill: str,
    *,
    bid: str = "99.98",
    ask: str = "100.02",
    leg: OrderLeg = OrderLeg.ENTRY,
) -> list[AuditedEvent]:
    order_type = OrderType.LIMIT if limit else OrderType.MARKET
    intent = make_intent(
        ManualClock(T0),
        intent_id=iid,
        side=side,
        order_type=order_type,
        limit=limit,
        stop_loss=None,
    )
    ref = order_ref_for(iid, leg)
    request = OrderRequest(
        order_ref=ref,
        instrument=intent.order.instrument,
        side=side,
        quantity=Decimal(10),
        order_type=order_type,
        limit_price=Decimal(limit) if limit else None,
    )
    quote = Quote(symbol="AAPL", bid=Decimal(bid), ask=Decimal(ask), ts=T0)
    return [
        IntentReceived(**at(0), intent=intent, source="test"),
        OrderSubmitting(**at(2500), intent_id=iid, request=request, token_id="t", quote=quote),
        OrderAcknowledged(**at(2504), intent_id=iid, order_ref=ref, perm_id=1, broker_order_id=1),
        FillRecorded(
            **at(2510),
            intent_id=iid,
            order_ref=ref,
            leg=leg,
            exec_id=f"x-{iid}",
            perm_id=1,
            symbol="AAPL",
            side=side,
            quantity=Decimal(10),
            price=Decimal(fill),
            cum_quantity=Decimal(10),
            remaining=Decimal(0),
        ),
        CommissionRecorded(**at(2511), exec_id=f"x-{iid}", commission=Decimal("1.00")),
    ]


def test_a_buy_filled_above_its_limit_reference_is_positive_slippage_in_ticks_and_money() -> None:
    (row,) = fill_journal(trade("b1", Side.BUY, "100.00", "100.03"))
    assert row.decision_price == Decimal("100.00")
    assert row.touch_at_send == Decimal("100.02")
    assert row.slippage_ticks == Decimal("3.00")
    assert row.slippage_usd == Decimal("0.30")
    assert row.commission == Decimal("1.00")
    assert row.intent_to_submit_ms == 2500.0
    assert row.submit_to_ack_ms == 4.0
    assert row.ack_to_fill_ms == 6.0


def test_a_sell_filled_above_its_reference_is_price_improvement() -> None:
    (row,) = fill_journal(trade("s1", Side.SELL, "100.00", "100.01"))
    assert row.slippage_ticks == Decimal("-1.00")


def test_a_market_order_is_measured_against_the_touch_when_it_left() -> None:
    (row,) = fill_journal(trade("m1", Side.BUY, None, "100.04"))
    assert row.decision_price is None
    assert row.slippage_ticks == Decimal("2.00")  # ask 100.02 -> 100.04


def test_the_contract_facts_of_the_master_set_the_tick_and_multiplier() -> None:
    facts = {"AAPL": (Decimal("0.25"), Decimal("5"))}
    (row,) = fill_journal(trade("f1", Side.BUY, "100.00", "100.50"), contract_facts=facts)
    assert row.slippage_ticks == Decimal("2.00")
    assert row.slippage_usd == Decimal("25.00")  # 0.50 x 10 x 5


def test_since_keeps_only_later_fills() -> None:
    events = trade("a", Side.BUY, "100.00", "100.00")
    assert fill_journal(events, since=T0 + timedelta(seconds=3)) == []
    assert len(fill_journal(events, since=T0)) == 1


def test_the_reconciler_flags_a_symbol_whose_fills_drift_from_the_model() -> None:
    events: list[AuditedEvent] = []
    for i in range(6):
        events += trade(f"d{i}", Side.BUY, "100.00", "100.03")
    rows = fill_journal(events)
    (drift,) = reconcile_slippage(rows, {"*": Decimal("1")}, bound_ticks=Decimal("1"))
    assert drift.fills == 6 and drift.observed_mean_ticks == Decimal("3.00") and drift.drifted
    (ok,) = reconcile_slippage(rows, {"AAPL": Decimal("2.5")}, bound_ticks=Decimal("1"))
    assert not ok.drifted


def test_too_few_fills_are_reported_but_never_flagged() -> None:
    rows = fill_journal(trade("x", Side.BUY, "100.00", "101.00"))
    (drift,) = reconcile_slippage(rows, {}, min_fills=5)
    assert drift.fills == 1 and not drift.drifted


def test_fill_report_prints_a_table_csv_and_json() -> None:
    import csv
    import io
    import json

    from console.fill_report import render_fill_report

    events = trade("b1", Side.BUY, "100.00", "100.03")
    text = render_fill_report(events)
    assert "b1" in text and "3.00" in text and "slippage against the model" in text
    rows = list(csv.DictReader(io.StringIO(render_fill_report(events, fmt="csv"))))
    assert rows[0]["intent_id"] == "b1" and rows[0]["slippage_ticks"] == "3.00"
    payload = json.loads(render_fill_report(events, fmt="json"))
    assert payload["fills"][0]["slippage_usd"] == "0.30"
    assert payload["slippage"][0]["fills"] == "1"
