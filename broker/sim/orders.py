"""Venue-side orders: what a client asks for (`OrderSpec`) and the live order (`SimOrder`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from broker.sim.chaos import Outcome
from contracts.enums import OrderType, Side, TimeInForce


class VenueOrderStatus(StrEnum):
    PENDING_SUBMIT = "PENDING_SUBMIT"
    WORKING = "WORKING"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def is_open(self) -> bool:
        return self in (VenueOrderStatus.PENDING_SUBMIT, VenueOrderStatus.WORKING)


@dataclass(frozen=True)
class OrderSpec:
    """One order as a client submits it; `client_id`/`order_id` are opaque tags for adapters."""

    account: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    order_ref: str = ""
    parent_perm_id: int | None = None
    oca_group: str = ""
    client_id: int = 0
    order_id: int = 0
    con_id: int = 0
    """The exact contract (a future's expiry); 0 means the symbol's default listing."""


@dataclass
class SimOrder:
    """A venue order; listeners receive copies (`snapshot`), never the live object."""

    perm_id: int
    account: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: TimeInForce
    order_ref: str
    parent_perm_id: int | None
    oca_group: str
    client_id: int
    order_id: int
    created: datetime
    con_id: int = 0
    status: VenueOrderStatus = VenueOrderStatus.PENDING_SUBMIT
    outcome: Outcome = Outcome.FILL
    filled: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None
    last_fill_price: Decimal | None = None
    held: bool = False
    """A bracket child waiting for its parent to fill."""
    triggered: bool = False
    """A stop whose trigger price has been touched."""
    reason: str = ""

    @classmethod
    def from_spec(cls, spec: OrderSpec, perm_id: int, created: datetime) -> SimOrder:
        return cls(
            perm_id=perm_id,
            account=spec.account,
            symbol=spec.symbol,
            side=spec.side,
            quantity=spec.quantity,
            order_type=spec.order_type,
            limit_price=spec.limit_price,
            stop_price=spec.stop_price,
            tif=spec.tif,
            order_ref=spec.order_ref,
            parent_perm_id=spec.parent_perm_id,
            oca_group=spec.oca_group,
            client_id=spec.client_id,
            order_id=spec.order_id,
            con_id=spec.con_id,
            created=created,
        )

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.quantity - self.filled)

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def snapshot(self) -> SimOrder:
        return copy.copy(self)
