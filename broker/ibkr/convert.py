"""Conversions between `contracts` models and ib_async objects (contracts, orders, trades)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from ib_async import Contract, ContractDetails, Fill, Order, OrderState, Position, Trade
from pydantic import ValidationError

from broker.brackets import BracketLeg, bracket_legs
from broker.ibkr import mapping
from contracts.broker import (
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
)
from contracts.enums import BrokerOrderStatus, OrderLeg, OrderType
from contracts.intent import Instrument
from contracts.market import ContractFacts, MarginPreview

log = logging.getLogger(__name__)

_CASH_EXCHANGE = "IDEALPRO"


def instrument_to_contract(instrument: Instrument) -> Contract:
    """An explicit IB contract (secType, exchange, currency set): no qualification needed.

    A future with an expiry (or a conId) is sent as IB lists it: root symbol,
    lastTradeDateOrContractMonth, tradingClass, multiplier, conId. Without either, its symbol
    must be the local symbol (e.g. "ESZ6").
    """
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
    elif sec_type == "FUT" and not (instrument.expiry or instrument.con_id):
        local_symbol = symbol
        symbol = ""
    if instrument.multiplier is not None and instrument.multiplier != 1:
        multiplier = _plain(instrument.multiplier)
    return Contract(
        secType=sec_type,
        conId=instrument.con_id or 0,
        symbol=symbol,
        lastTradeDateOrContractMonth=instrument.expiry,
        exchange=exchange,
        primaryExchange=instrument.primary_exchange,
        currency=currency,
        localSymbol=local_symbol,
        multiplier=multiplier,
        tradingClass=instrument.trading_class,
    )


def details_query(instrument: Instrument) -> Contract:
    """The contract to ask reqContractDetails with: a future without expiry lists every expiry."""
    if instrument.sec_type == "FUT" and not (instrument.expiry or instrument.con_id):
        return Contract(
            secType="FUT",
            symbol=instrument.symbol,
            exchange=instrument.exchange,
            currency=instrument.currency,
            tradingClass=instrument.trading_class,
        )
    return instrument_to_contract(instrument)


def contract_to_instrument(contract: Contract) -> Instrument | None:
    """The Instrument an IB contract describes; None if the contracts model cannot hold it."""
    symbol = contract.symbol
    expiry = ""
    if contract.secType == "FUT" and contract.symbol and contract.lastTradeDateOrContractMonth:
        expiry = contract.lastTradeDateOrContractMonth
    elif contract.secType in ("CASH", "FUT") and contract.localSymbol:
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
            con_id=contract.conId or None,
            expiry=expiry,
            trading_class=contract.tradingClass if expiry else "",
        )
    except ValidationError:
        log.warning("contract %s/%s cannot be represented", contract.symbol, contract.secType)
        return None


def details_to_facts(details: ContractDetails) -> ContractFacts | None:
    """ContractFacts from IB contract details; None if a field is missing or out of range."""
    contract = details.contract
    if contract is None:
        return None
    multiplier = mapping.to_decimal(contract.multiplier) if contract.multiplier else Decimal(1)
    size_increment = mapping.to_decimal(details.sizeIncrement)
    try:
        return ContractFacts(
            con_id=contract.conId,
            symbol=contract.symbol.upper(),
            sec_type=contract.secType,
            exchange=contract.exchange,
            currency=contract.currency,
            multiplier=multiplier,
            min_tick=mapping.to_decimal(details.minTick),
            price_magnifier=details.priceMagnifier or 1,
            size_increment=size_increment if size_increment and size_increment > 0 else 1,
            expiry=mapping.ib_date(
                details.realExpirationDate or contract.lastTradeDateOrContractMonth
            ),
            trading_class=contract.tradingClass,
            primary_exchange=contract.primaryExchange,
            long_name=details.longName,
        )
    except ValidationError as exc:
        log.warning("contract details for %s not usable: %s", contract.symbol, exc)
        return None


@dataclass(frozen=True)
class LegOrder:
    """One IB order of a request: which leg it is, its orderRef, the ib_async Order, the spec."""

    leg: OrderLeg
    order_ref: str
    order: Order
    spec: BracketLeg


def request_to_orders(request: OrderRequest, order_ids: list[int], account: str) -> list[LegOrder]:
    """The IB orders for a request (`brackets.bracket_legs`), one order id per leg.

    A bracket is parent (transmit=False), take-profit then stop-loss children with parentId
    and a shared OCA group; only the last child has transmit=True, so TWS releases the three
    together. `order_ids` must hold one id per leg (see `legs_needed`).
    """
    if len(order_ids) != legs_needed(request):
        raise ValueError("one order id per leg is needed")
    legs = bracket_legs(request)
    ids_by_ref = {leg.order_ref: order_id for leg, order_id in zip(legs, order_ids, strict=True)}
    result = []
    for leg in legs:
        order = Order(
            orderId=ids_by_ref[leg.order_ref],
            action=leg.side.value,
            totalQuantity=float(leg.quantity),
            orderType=leg.order_type.value,
            tif=leg.tif.value,
            orderRef=leg.order_ref,
            account=account,
            transmit=leg.transmit,
        )
        if leg.limit_price is not None:
            order.lmtPrice = float(leg.limit_price)
        if leg.stop_price is not None:
            order.auxPrice = float(leg.stop_price)
        if leg.parent_ref is not None:
            order.parentId = ids_by_ref[leg.parent_ref]
            order.ocaGroup = leg.oca_group
            order.ocaType = 1  # cancel the others with block
        result.append(LegOrder(leg.leg, leg.order_ref, order, leg))
    return result


def preview_order(request: OrderRequest, account: str) -> Order:
    """The entry order alone, transmitted, for a whatIf preview (the exits add no margin)."""
    entry = request.model_copy(update={"stop_loss": None, "take_profit": None})
    (leg,) = request_to_orders(entry, [0], account)
    return leg.order


def order_state_to_preview(state: OrderState) -> MarginPreview | None:
    """A MarginPreview from a whatIf OrderState; None if TWS left the margin fields unset."""
    init = mapping.to_decimal(state.initMarginChange)
    maint = mapping.to_decimal(state.maintMarginChange)
    equity = mapping.to_decimal(state.equityWithLoanAfter)
    if init is None or maint is None or equity is None:
        return None
    return MarginPreview(
        init_margin_change=init,
        maint_margin_change=maint,
        equity_with_loan_after=equity,
        commission=mapping.to_decimal(state.commission),
        currency=state.commissionCurrency or "USD",
        warning=state.warningText,
    )


def legs_needed(request: OrderRequest) -> int:
    return 1 + (request.take_profit is not None) + (request.stop_loss is not None)


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
