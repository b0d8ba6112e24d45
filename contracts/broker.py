"""What crosses the broker port: order requests, broker snapshots and broker events.

Adapters translate venue strings and codes into these models; nothing venue-specific
(IB status strings, error numbers as control flow, ib_async objects) goes past them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from contracts.base import Frozen, NonNegativeDecimal, PositiveDecimal
from contracts.enums import BrokerOrderStatus, OrderLeg, OrderType, Side, TimeInForce
from contracts.intent import Instrument
from contracts.market import Bar

ORDER_REF_PREFIX = "dg"


def order_ref_for(intent_id: str, leg: OrderLeg = OrderLeg.ENTRY) -> str:
    """The client order id (IB orderRef) for one leg of an intent: 'dg:<intent>:<leg>'."""
    return f"{ORDER_REF_PREFIX}:{intent_id}:{leg.value}"


def parse_order_ref(order_ref: str) -> tuple[str, OrderLeg] | None:
    """Split an orderRef made by `order_ref_for`; None for orders deskgate did not place."""
    parts = order_ref.split(":")
    if len(parts) != 3 or parts[0] != ORDER_REF_PREFIX or not parts[1]:
        return None
    try:
        return parts[1], OrderLeg(parts[2])
    except ValueError:
        return None


class OrderRequest(Frozen):
    """One order (with optional bracket exits) the engine asks a broker to place."""

    order_ref: str
    instrument: Instrument
    side: Side
    quantity: PositiveDecimal
    order_type: OrderType
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    stop_loss: PositiveDecimal | None = None
    """Bracket stop: a child stop order (leg SL) activated when the entry fills."""
    take_profit: PositiveDecimal | None = None
    """Bracket target: a child limit order (leg TP), OCA with the stop."""


class BrokerOrder(Frozen):
    """An order as the broker reports it (open or completed)."""

    order_ref: str
    broker_order_id: int
    perm_id: int
    instrument: Instrument
    side: Side
    quantity: Decimal
    filled: NonNegativeDecimal
    remaining: NonNegativeDecimal
    order_type: OrderType
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    avg_fill_price: Decimal | None = None
    status: BrokerOrderStatus


class BrokerExecution(Frozen):
    """One fill as the broker reports it."""

    exec_id: str
    order_ref: str
    perm_id: int
    symbol: str
    side: Side
    quantity: PositiveDecimal
    price: PositiveDecimal
    cum_quantity: NonNegativeDecimal
    time: AwareDatetime
    commission: Decimal | None = None


class BrokerPosition(Frozen):
    account: str
    instrument: Instrument
    quantity: Decimal
    avg_cost: Decimal


class AccountSnapshot(Frozen):
    account_id: str
    is_paper: bool
    currency: str = "USD"
    net_liquidation: Decimal | None = None
    available_funds: Decimal | None = None
    buying_power: Decimal | None = None
    cash: Decimal | None = None
    init_margin: Decimal | None = None
    maint_margin: Decimal | None = None
    cushion: Decimal | None = None
    realized_pnl: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    ts: AwareDatetime


class Quote(Frozen):
    symbol: str
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    ts: AwareDatetime

    @property
    def mid(self) -> Decimal | None:
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.last


# --- events a broker delivers to the engine (through the sink given to the port) ---------


class _BrokerEvent(Frozen):
    ts: AwareDatetime


class BrokerConnected(_BrokerEvent):
    kind: Literal["connected"] = "connected"
    account_id: str
    is_paper: bool


class BrokerDisconnected(_BrokerEvent):
    kind: Literal["disconnected"] = "disconnected"
    reason: str


class ConnectivityChanged(_BrokerEvent):
    """IB 1100 (lost), 1101 (restored, data lost), 1102 (restored, data kept)."""

    kind: Literal["connectivity"] = "connectivity"
    connected: bool
    data_lost: bool = False
    message: str = ""


class DataFarmStatus(_BrokerEvent):
    """Market/HMDS/sec-def farm health: a data-health signal only, never order state."""

    kind: Literal["farm"] = "farm"
    farm: str
    ok: bool
    message: str = ""


class OrderAccepted(_BrokerEvent):
    """The broker acknowledged the order and it is working."""

    kind: Literal["accepted"] = "accepted"
    order_ref: str
    broker_order_id: int
    perm_id: int


class OrderFilled(_BrokerEvent):
    kind: Literal["filled"] = "filled"
    order_ref: str
    perm_id: int
    exec_id: str
    side: Side
    quantity: PositiveDecimal
    price: PositiveDecimal
    cum_quantity: PositiveDecimal
    remaining: NonNegativeDecimal


class CommissionReported(_BrokerEvent):
    kind: Literal["commission"] = "commission"
    exec_id: str
    commission: Decimal
    currency: str = "USD"
    realized_pnl: Decimal | None = None


class OrderCancelled(_BrokerEvent):
    kind: Literal["cancelled"] = "cancelled"
    order_ref: str
    perm_id: int
    filled: NonNegativeDecimal = Decimal(0)
    reason: str = ""


class OrderRejected(_BrokerEvent):
    """Final refusal (IB 201 and friends); the reason is kept verbatim."""

    kind: Literal["rejected"] = "rejected"
    order_ref: str
    code: int
    reason: str


class CancelRejected(_BrokerEvent):
    """A cancel could not be done (IB 10147/10148): the order may have filled."""

    kind: Literal["cancel_rejected"] = "cancel_rejected"
    order_ref: str
    code: int
    reason: str


class ModifyRejected(_BrokerEvent):
    """A modify failed (IB 104/105/110); the original order may still be live."""

    kind: Literal["modify_rejected"] = "modify_rejected"
    order_ref: str
    code: int
    reason: str


class PacingViolation(_BrokerEvent):
    """The venue said we sent too fast (IB 100)."""

    kind: Literal["pacing"] = "pacing"
    message: str = ""


class BrokerNotice(_BrokerEvent):
    """Any other broker message worth showing; never changes order state."""

    kind: Literal["notice"] = "notice"
    code: int
    message: str
    order_ref: str | None = None


class QuoteUpdated(_BrokerEvent):
    kind: Literal["quote"] = "quote"
    quote: Quote


class AccountUpdated(_BrokerEvent):
    kind: Literal["account"] = "account"
    account: AccountSnapshot


class PositionUpdated(_BrokerEvent):
    kind: Literal["position"] = "position"
    position: BrokerPosition


class BarUpdated(_BrokerEvent):
    """A live bar (IB reqRealTimeBars: 5 s). `late` is set when it arrived after its successor's
    open; `gap_before` when bars between the previous one and this one never arrived."""

    kind: Literal["bar"] = "bar"
    bar: Bar
    late: bool = False
    gap_before: bool = False


class OrderEntryRefused(_BrokerEvent):
    """The broker refuses every new order of this session (TWS "Read-Only API"): the engine
    disables order entry with `reason` until restarted; cancels and reads still work."""

    kind: Literal["order_entry_refused"] = "order_entry_refused"
    reason: str


BrokerEvent = Annotated[
    BrokerConnected
    | BrokerDisconnected
    | ConnectivityChanged
    | DataFarmStatus
    | OrderAccepted
    | OrderFilled
    | CommissionReported
    | OrderCancelled
    | OrderRejected
    | CancelRejected
    | ModifyRejected
    | PacingViolation
    | BrokerNotice
    | QuoteUpdated
    | AccountUpdated
    | PositionUpdated
    | BarUpdated
    | OrderEntryRefused,
    Field(discriminator="kind"),
]
