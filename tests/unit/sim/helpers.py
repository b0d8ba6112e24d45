"""Small builders and a recording listener shared by the sim unit tests."""

from __future__ import annotations

from decimal import Decimal

from broker.sim import OrderSpec, SimVenue, VenueEvent
from contracts.enums import OrderType, Side, TimeInForce

ACCOUNT = "DU0000001"


def spec(
    side: Side = Side.BUY,
    quantity: int | str = 100,
    order_type: OrderType = OrderType.MARKET,
    *,
    symbol: str = "AAPL",
    limit: str | None = None,
    stop: str | None = None,
    parent: int | None = None,
    ref: str = "",
    tif: TimeInForce = TimeInForce.DAY,
) -> OrderSpec:
    """An order spec with sensible defaults."""
    return OrderSpec(
        account=ACCOUNT,
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        order_type=order_type,
        limit_price=Decimal(limit) if limit is not None else None,
        stop_price=Decimal(stop) if stop is not None else None,
        tif=tif,
        order_ref=ref,
        parent_perm_id=parent,
    )


class Recorder:
    """A venue listener that keeps every event."""

    def __init__(self, venue: SimVenue) -> None:
        self.events: list[VenueEvent] = []
        venue.subscribe(self.events.append)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]
