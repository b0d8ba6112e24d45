"""Conversions between `contracts` models and ib_async objects (contracts, orders, trades)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from ib_async import Contract, Fill, Order, Position, Trade
from pydantic import ValidationError

from broker.ibkr import mapping
from contracts.broker import (
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
    order_ref_for,
    parse_order_ref,
)
from contracts.enums import BrokerOrderStatus, OrderLeg, OrderType
from contracts.intent import Instrument

log = logging.getLogger(__name__)

_CASH_EXCHANGE = "IDEALPRO"


def instrument_to_contract(instrument: Instrument) -> Contract:
    """An explicit IB contract (secType, exchange, currency set): no qualification needed."""
    sec_type = instrument.sec_type
    symbol = instrument.symbol
    currency = instrument.currency
    exchange = instrument.exchange
    local_symbol = ""
    multiplier = ""
    if sec_type == "CASH":
        base, dot, quote = symbol.partition(".")
        if dot:
            symbol, currency = base, quote
        if exchange == "SMART":
            exchange = _CASH_EXCHANGE
    elif sec_type == "FUT":
        # without an expiry field the symbol must be the local symbol (e.g. "ESZ6")
        local_symbol = symbol
        symbol = ""
    if instrument.multiplier is not None and instrument.multiplier != 1:
        multiplier = _plain(instrument.multiplier)
    return Contract(
        secType=sec_type,
        symbol=symbol,
        exchange=exchange,
        primaryExchange=instrument.primary_exchange,
        currency=currency,
        localSymbol=local_symbol,
        multiplier=multiplier,
    )


def contract_to_instrument(contract: Contract) -> Instrument | None:
    """The Instrument an IB contract describes; None if the contracts model cannot hold it."""
    symbol = contract.symbol
    if (contract.secType == "CASH" and contract.localSymbol) or (
        contract.secType == "FUT" and contract.localSymbol
    ):
        symbol = contract.localSymbol
    multiplier = mapping.to_decimal(contract.multiplier) if contract.multiplier else None
    try:
        return Instrument(
            symbol=symbol.upper(),
            sec_type=contract.secType or "STK",
            exchange=contract.exchange or "SMART",
            currency=contract.currency or "USD",
            primary_exchange=contract.primaryExchange or "",
            multiplier=multiplier if multiplier and multiplier > 0 else Decimal(1),
        )
    except ValidationError:
        log.warning("contract %s/%s cannot be represented", contract.symbol, contract.secType)
        return None


@dataclass(frozen=True)
class LegOrder:
    """One IB order of a request: which leg it is, its orderRef and the ib_async Order."""

    leg: OrderLeg
    order_ref: str
    order: Order


def request_to_orders(request: OrderRequest, order_ids: list[int], account: str) -> list[LegOrder]:
    """The IB orders for a request: the entry, plus a bracket when exits are given.

    A bracket is parent (transmit=False), take-profit then stop-loss children with parentId
    and a shared OCA group; only the last child has transmit=True, so TWS releases the three
    together. `order_ids` must hold one id per leg (see `legs_needed`).
    """
    if len(order_ids) != legs_needed(request):
        raise ValueError("one order id per leg is needed")
    children: list[tuple[OrderLeg, Order]] = []
    exit_action = request.side.opposite.value
    if request.take_profit is not None:
        children.append(
            (
                OrderLeg.TAKE_PROFIT,
                Order(
                    action=exit_action,
                    totalQuantity=float(request.quantity),
                    orderType=OrderType.LIMIT.value,
                    lmtPrice=float(request.take_profit),
                    tif=request.tif.value,
                ),
            )
        )
    if request.stop_loss is not None:
        children.append(
            (
                OrderLeg.STOP_LOSS,
                Order(
                    action=exit_action,
                    totalQuantity=float(request.quantity),
                    orderType=OrderType.STOP.value,
                    auxPrice=float(request.stop_loss),
                    tif=request.tif.value,
                ),
            )
        )
    entry = Order(
        action=request.side.value,
        totalQuantity=float(request.quantity),
        orderType=request.order_type.value,
        tif=request.tif.value,
    )
    if request.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        if request.limit_price is None:
            raise ValueError(f"{request.order_type} order without limit_price")
        entry.lmtPrice = float(request.limit_price)
    if request.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        if request.stop_price is None:
            raise ValueError(f"{request.order_type} order without stop_price")
        entry.auxPrice = float(request.stop_price)

    parent_id = order_ids[0]
    entry.orderId = parent_id
    entry.orderRef = request.order_ref
    entry.account = account
    entry.transmit = not children
    legs = [LegOrder(_entry_leg(request.order_ref), request.order_ref, entry)]
    if children:
        parsed = parse_order_ref(request.order_ref)
        if parsed is None:
            raise ValueError(f"bracket exits need an order_ref made by order_ref_for: {request}")
        intent_id, _ = parsed
        oca_group = f"{intent_id}:OCA"
        for i, (leg, child) in enumerate(children, start=1):
            child.orderId = order_ids[i]
            child.parentId = parent_id
            child.orderRef = order_ref_for(intent_id, leg)
            child.ocaGroup = oca_group
            child.ocaType = 1  # cancel the others with block
            child.account = account
            child.transmit = i == len(children)
            legs.append(LegOrder(leg, child.orderRef, child))
    return legs


def legs_needed(request: OrderRequest) -> int:
    return 1 + (request.take_profit is not None) + (request.stop_loss is not None)


def _entry_leg(order_ref: str) -> OrderLeg:
    parsed = parse_order_ref(order_ref)
    return parsed[1] if parsed else OrderLeg.ENTRY


def order_type(ib_order_type: str) -> OrderType | None:
    try:
        return OrderType(ib_order_type)
    except ValueError:
        return None


def trade_to_order(trade: Trade) -> BrokerOrder | None:
    """A BrokerOrder from an ib_async Trade; None if it cannot be represented."""
    order = trade.order
    status = trade.orderStatus
    instrument = contract_to_instrument(trade.contract)
    kind = order_type(order.orderType)
    broker_status = mapping.order_status(status.status)
    if instrument is None or kind is None or broker_status is None:
        log.warning(
            "open order %s (%s, %s) cannot be represented",
            order.permId,
            order.orderType,
            status.status,
        )
        return None
    quantity = mapping.to_decimal(order.totalQuantity) or Decimal(0)
    filled = mapping.to_decimal(status.filled) or Decimal(0)
    remaining = mapping.to_decimal(status.remaining)
    if remaining is None or (
        remaining == 0
        and filled < quantity
        and broker_status not in mapping.TERMINAL_BROKER_STATUSES
    ):
        remaining = max(quantity - filled, Decimal(0))
    return BrokerOrder(
        order_ref=order.orderRef or "",
        broker_order_id=order.orderId,
        perm_id=order.permId or status.permId,
        instrument=instrument,
        side=mapping.side(order.action),
        quantity=quantity,
        filled=filled,
        remaining=remaining,
        order_type=kind,
        limit_price=mapping.to_price(order.lmtPrice),
        stop_price=mapping.to_price(order.auxPrice),
        avg_fill_price=mapping.to_price(status.avgFillPrice),
        status=broker_status,
    )


def is_working(trade: Trade) -> bool:
    status = mapping.order_status(trade.orderStatus.status)
    return status in (
        BrokerOrderStatus.WORKING,
        BrokerOrderStatus.PENDING_SUBMIT,
        BrokerOrderStatus.PENDING_CANCEL,
    )


def fill_to_execution(fill: Fill) -> BrokerExecution | None:
    ex = fill.execution
    quantity = mapping.to_decimal(ex.shares)
    price = mapping.to_price(ex.price)
    if not ex.execId or quantity is None or quantity <= 0 or price is None:
        return None
    report = fill.commissionReport
    commission = (
        mapping.to_decimal(report.commission) if report and report.execId == ex.execId else None
    )
    return BrokerExecution(
        exec_id=ex.execId,
        order_ref=ex.orderRef or "",
        perm_id=ex.permId,
        symbol=(fill.contract.localSymbol if fill.contract.secType == "CASH" else "")
        or fill.contract.symbol,
        side=mapping.side(ex.side),
        quantity=quantity,
        price=price,
        cum_quantity=mapping.to_decimal(ex.cumQty) or quantity,
        time=ex.time,
        commission=commission,
    )


def position_to_broker(position: Position) -> BrokerPosition | None:
    instrument = contract_to_instrument(position.contract)
    if instrument is None:
        return None
    return BrokerPosition(
        account=position.account,
        instrument=instrument,
        quantity=mapping.to_decimal(position.position) or Decimal(0),
        avg_cost=mapping.to_decimal(position.avgCost) or Decimal(0),
    )


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
