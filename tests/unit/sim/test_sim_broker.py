"""SimBroker over the venue: the broker port's events, brackets, cancels and reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from broker.sim import Outcome, ScriptedOutcome, SimBroker, SimVenue
from contracts.broker import (
    AccountUpdated,
    BrokerConnected,
    BrokerDisconnected,
    BrokerEvent,
    CancelRejected,
    CommissionReported,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    PositionUpdated,
    QuoteUpdated,
    order_ref_for,
)
from contracts.enums import BrokerOrderStatus, OrderLeg, OrderType, Side
from contracts.intent import Instrument
from engine.ports import BrokerPort, BrokerUnavailable

AAPL = Instrument(symbol="AAPL")


class Sink:
    """Collects broker events in order."""

    def __init__(self) -> None:
        self.events: list[BrokerEvent] = []

    def __call__(self, event: BrokerEvent) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


async def _connected(seed: int = 1) -> tuple[SimVenue, SimBroker, Sink]:
    venue = SimVenue(seed)
    broker = SimBroker(venue, "DU7654321")
    sink = Sink()
    broker.set_event_sink(sink)
    await broker.connect()
    return venue, broker, sink


def _request(intent: str = "i1", **kw: object) -> OrderRequest:
    fields: dict[str, object] = {
        "order_ref": order_ref_for(intent),
        "instrument": AAPL,
        "side": Side.BUY,
        "quantity": Decimal(10),
        "order_type": OrderType.MARKET,
    }
    fields.update(kw)
    return OrderRequest.model_validate(fields)


async def test_is_a_broker_port_and_connects() -> None:
    _venue, broker, sink = await _connected()
    assert isinstance(broker, BrokerPort)
    assert broker.connected
    [connected] = sink.of(BrokerConnected)
    assert connected.account_id == "DU7654321" and connected.is_paper
    assert sink.of(AccountUpdated)[0].account.net_liquidation == Decimal("100000")
    await broker.disconnect()
    assert not broker.connected and sink.of(BrokerDisconnected)
    with pytest.raises(BrokerUnavailable):
        await broker.submit(_request())


async def test_market_order_events_in_order() -> None:
    _venue, broker, sink = await _connected()
    sink.events.clear()
    await broker.submit(_request())
    kinds = [type(e) for e in sink.events]
    assert kinds == [
        OrderAccepted,
        OrderFilled,
        CommissionReported,
        PositionUpdated,
        AccountUpdated,
    ]
    fill = sink.of(OrderFilled)[0]
    assert fill.order_ref == "dg:i1:ENTRY" and fill.remaining == 0
    assert sink.of(CommissionReported)[0].exec_id == fill.exec_id
    [pos] = await broker.positions()
    assert pos.quantity == 10
    [ex] = await broker.executions()
    assert ex.exec_id == fill.exec_id and ex.commission == Decimal("1.00")


async def test_bracket_creates_sl_and_tp_legs_with_intent_refs() -> None:
    venue, broker, sink = await _connected()
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    await broker.submit(
        _request(
            "br1",
            order_type=OrderType.LIMIT,
            limit_price=Decimal("99.00"),
            stop_loss=Decimal("98.00"),
            take_profit=Decimal("101.00"),
        )
    )
    refs = {o.order_ref: o for o in await broker.open_orders()}
    assert set(refs) == {
        order_ref_for("br1"),
        order_ref_for("br1", OrderLeg.STOP_LOSS),
        order_ref_for("br1", OrderLeg.TAKE_PROFIT),
    }
    sl = refs[order_ref_for("br1", OrderLeg.STOP_LOSS)]
    assert sl.order_type is OrderType.STOP and sl.side is Side.SELL
    assert sl.stop_price == Decimal("98.00")
    venue.set_price("AAPL", Decimal("98.95"), Decimal("98.96"))  # entry fills
    venue.set_price("AAPL", Decimal("101.10"), Decimal("101.11"))  # target fills
    cancelled = sink.of(OrderCancelled)
    assert [c.order_ref for c in cancelled] == [order_ref_for("br1", OrderLeg.STOP_LOSS)]
    assert await broker.open_orders() == []
    done = {o.order_ref: o.status for o in await broker.completed_orders()}
    assert done[order_ref_for("br1", OrderLeg.TAKE_PROFIT)] is BrokerOrderStatus.FILLED


async def test_rejection_is_reported_with_code_and_reason() -> None:
    venue, broker, sink = await _connected()
    venue.script(ScriptedOutcome(Outcome.REJECT, reason="insufficient margin"))
    await broker.submit(_request("r1"))
    [rej] = sink.of(OrderRejected)
    assert rej.code == 201 and rej.reason == "insufficient margin"
    assert rej.order_ref == "dg:r1:ENTRY"


async def test_cancel_and_cancel_misses() -> None:
    venue, broker, sink = await _connected()
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    await broker.submit(_request("c1", order_type=OrderType.LIMIT, limit_price=Decimal("90")))
    await broker.cancel("dg:c1:ENTRY")
    [cancelled] = sink.of(OrderCancelled)
    assert cancelled.order_ref == "dg:c1:ENTRY" and cancelled.filled == 0
    await broker.cancel("dg:c1:ENTRY")
    await broker.cancel("dg:nope:ENTRY")
    assert [c.code for c in sink.of(CancelRejected)] == [10148, 10147]


async def test_cancel_all_and_quotes() -> None:
    venue, broker, sink = await _connected()
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    for i in range(3):
        await broker.submit(
            _request(f"q{i}", order_type=OrderType.LIMIT, limit_price=Decimal("90"))
        )
    await broker.cancel_all()
    assert len(sink.of(OrderCancelled)) == 3 and await broker.open_orders() == []
    await broker.subscribe_quotes(AAPL)
    venue.step()
    quotes = sink.of(QuoteUpdated)
    assert len(quotes) == 2 and all(q.quote.symbol == "AAPL" for q in quotes)
    assert quotes[-1].quote.bid == venue.quote("AAPL").bid


async def test_unknown_instrument_gets_a_synthetic_book() -> None:
    venue, broker, sink = await _connected()
    await broker.subscribe_quotes(Instrument(symbol="TSLA"))
    assert venue.spec("TSLA") is not None
    assert sink.of(QuoteUpdated)[-1].quote.symbol == "TSLA"
