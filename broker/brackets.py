"""Bracket expansion: one order request into its entry, take-profit and stop-loss legs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.broker import OrderRequest, order_ref_for, parse_order_ref
from contracts.enums import OrderLeg, OrderType, Side, TimeInForce


@dataclass(frozen=True)
class BracketLeg:
    """One order of a request as the venue receives it.

    `parent_ref` is None for the entry; the exits name the entry's orderRef, share one OCA
    group, and only the last leg has `transmit` set, so a venue that holds untransmitted
    orders (TWS) releases the whole bracket at once.
    """

    leg: OrderLeg
    order_ref: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: TimeInForce
    parent_ref: str | None
    oca_group: str
    transmit: bool


def bracket_legs(request: OrderRequest) -> list[BracketLeg]:
    """The legs of a request: the entry, then take-profit and stop-loss when their prices are set.

    Raises:
        ValueError: a priced order without its price, or exits on an order_ref that was not
            made by `order_ref_for` (the exits' refs are derived from the intent id).
    """
    if (
        request.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        and request.limit_price is None
    ):
        raise ValueError(f"{request.order_type} order without limit_price")
    if request.order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and request.stop_price is None:
        raise ValueError(f"{request.order_type} order without stop_price")
    exits = [
        (leg, kind, price)
        for leg, kind, price in (
            (OrderLeg.TAKE_PROFIT, OrderType.LIMIT, request.take_profit),
            (OrderLeg.STOP_LOSS, OrderType.STOP, request.stop_loss),
        )
        if price is not None
    ]
    parsed = parse_order_ref(request.order_ref)
    entry = BracketLeg(
        leg=parsed[1] if parsed else OrderLeg.ENTRY,
        order_ref=request.order_ref,
        side=request.side,
        quantity=request.quantity,
        order_type=request.order_type,
        limit_price=request.limit_price,
        stop_price=request.stop_price,
        tif=request.tif,
        parent_ref=None,
        oca_group="",
        transmit=not exits,
    )
    if not exits:
        return [entry]
    if parsed is None:
        raise ValueError(f"bracket exits need an order_ref made by order_ref_for: {request}")
    intent_id = parsed[0]
    legs = [entry]
    for i, (leg, kind, price) in enumerate(exits, start=1):
        is_stop = kind is OrderType.STOP
        legs.append(
            BracketLeg(
                leg=leg,
                order_ref=order_ref_for(intent_id, leg),
                side=request.side.opposite,
                quantity=request.quantity,
                order_type=kind,
                limit_price=None if is_stop else price,
                stop_price=price if is_stop else None,
                tif=request.tif,
                parent_ref=request.order_ref,
                oca_group=f"{intent_id}:OCA",
                transmit=i == len(exits),
            )
        )
    return legs
