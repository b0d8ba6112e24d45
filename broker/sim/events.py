"""What the venue tells its listeners: order lifecycle changes, fills (executions) and quotes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from broker.sim.orders import SimOrder
from broker.sim.quotes import SimQuote
from contracts.enums import Side


class OrderEventKind(StrEnum):
    ACCEPTED = "ACCEPTED"
    """Acknowledged; working, or held if it is a bracket child waiting for its parent."""
    ACTIVATED = "ACTIVATED"
    """A held bracket child became working."""
    MODIFIED = "MODIFIED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class Execution:
    """One fill, with everything an execution report and a commission report need."""

    exec_id: str
    perm_id: int
    order_id: int
    client_id: int
    order_ref: str
    account: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    cum_quantity: Decimal
    avg_price: Decimal
    commission: Decimal
    realized_pnl: Decimal | None
    time: datetime
    con_id: int = 0


@dataclass(frozen=True)
class VenueOrderEvent:
    kind: OrderEventKind
    order: SimOrder
    ts: datetime
    code: int = 0
    reason: str = ""


@dataclass(frozen=True)
class VenueFillEvent:
    order: SimOrder
    execution: Execution
    ts: datetime


@dataclass(frozen=True)
class VenueQuoteEvent:
    quote: SimQuote


VenueEvent = VenueOrderEvent | VenueFillEvent | VenueQuoteEvent
VenueListener = Callable[[VenueEvent], None]


class VenueError(Exception):
    """A request the venue refuses, with the IB-style code an adapter can pass on."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
