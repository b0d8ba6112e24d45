"""One bracket expansion for every venue: the sim and the IB adapter place the same legs."""

from __future__ import annotations

from decimal import Decimal

from broker.brackets import bracket_legs
from broker.ibkr import convert
from broker.sim import SimBroker, SimVenue
from contracts.broker import OrderRequest, order_ref_for
from contracts.enums import OrderLeg, OrderType, Side
from contracts.intent import Instrument


def _bracket() -> OrderRequest:
    return OrderRequest(
        order_ref=order_ref_for("b7"),
        instrument=Instrument(symbol="AAPL"),
        side=Side.BUY,
        quantity=Decimal(10),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("99.00"),
        stop_loss=Decimal("98.00"),
        take_profit=Decimal("101.00"),
    )


def test_legs_are_entry_then_take_profit_then_stop_with_one_oca_and_last_transmits() -> None:
    entry, tp, sl = bracket_legs(_bracket())
    assert [leg.leg for leg in (entry, tp, sl)] == [
        OrderLeg.ENTRY,
        OrderLeg.TAKE_PROFIT,
        OrderLeg.STOP_LOSS,
    ]
    assert (entry.transmit, tp.transmit, sl.transmit) == (False, False, True)
    assert entry.parent_ref is None and tp.parent_ref == sl.parent_ref == entry.order_ref
    assert entry.oca_group == "" and tp.oca_group == sl.oca_group != ""
    assert (tp.side, tp.order_type, tp.limit_price, tp.stop_price) == (
        Side.SELL,
        OrderType.LIMIT,
        Decimal("101.00"),
        None,
    )
    assert (sl.side, sl.order_type, sl.limit_price, sl.stop_price) == (
        Side.SELL,
        OrderType.STOP,
        None,
        Decimal("98.00"),
    )


def test_a_plain_order_is_one_transmitted_leg() -> None:
    request = _bracket().model_copy(update={"stop_loss": None, "take_profit": None})
    (entry,) = bracket_legs(request)
    assert entry.transmit and entry.parent_ref is None


async def test_sim_and_ib_adapter_place_the_same_legs() -> None:
    request = _bracket()
    venue = SimVenue(1)
    broker = SimBroker(venue)
    await broker.connect()
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    await broker.submit(request)
    sim_legs = [
        (o.order_ref, o.side, o.order_type, o.limit_price, o.stop_price, o.oca_group)
        for o in venue.orders(broker.account_id)
    ]
    ib_legs = [
        (
            leg.order_ref,
            Side(leg.order.action),
            OrderType(leg.order.orderType),
            Decimal(str(leg.order.lmtPrice)) if leg.spec.limit_price else None,
            Decimal(str(leg.order.auxPrice)) if leg.spec.stop_price else None,
            leg.order.ocaGroup,
        )
        for leg in convert.request_to_orders(request, [1, 2, 3], "DU1")
    ]
    assert sim_legs == ib_legs
