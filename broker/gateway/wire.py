"""Translation between venue objects and their wire descriptions (status strings, contracts)."""

from __future__ import annotations

from decimal import Decimal

from broker.gateway.messages import WireContract, WireExecution, WireOrder
from broker.sim.events import Execution
from broker.sim.orders import SimOrder, VenueOrderStatus
from broker.sim.symbols import Listing, listing_by_con_id
from broker.sim.venue import SimVenue
from contracts.enums import OrderType, Side

TWS_STATUS: dict[VenueOrderStatus, str] = {
    VenueOrderStatus.PENDING_SUBMIT: "PendingSubmit",
    VenueOrderStatus.WORKING: "Submitted",
    VenueOrderStatus.FILLED: "Filled",
    VenueOrderStatus.CANCELLED: "Cancelled",
    VenueOrderStatus.REJECTED: "Inactive",
}

ORDER_TYPES: dict[str, OrderType] = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP_LIMIT,
    "STPLMT": OrderType.STOP_LIMIT,
}


def tws_status(order: SimOrder) -> str:
    """The status string TWS would show for this venue order."""
    if order.status is VenueOrderStatus.WORKING and order.held:
        return "PreSubmitted"
    return TWS_STATUS[order.status]


def wire_contract(listing: Listing, exchange: str = "") -> WireContract:
    """The wire description of a listed contract; stocks keep the exchange the client named."""
    spec = listing.spec
    if spec.is_future:
        exchange = spec.exchange
    return WireContract(
        con_id=listing.con_id,
        symbol=spec.symbol,
        sec_type=spec.sec_type,
        exchange=exchange or "SMART",
        primary_exchange=spec.primary_exchange,
        currency=spec.currency,
        min_tick=spec.tick,
        long_name=spec.long_name,
        expiry=listing.last_trade_date,
        multiplier=spec.multiplier,
        local_symbol=listing.local_symbol,
        trading_class=listing.trading_class if spec.is_future else "",
    )


def listing_for(venue: SimVenue, symbol: str, con_id: int = 0) -> Listing | None:
    """The exact contract (by conId) or the symbol's default listing (a future's front month)."""
    specs = venue.symbols()
    if con_id:
        found = listing_by_con_id(specs, con_id)
        if found is not None and found.spec.symbol == symbol:
            return found
    spec = venue.spec(symbol)
    if spec is None:
        return None
    listed = venue.find_contracts(symbol=symbol, sec_type=spec.sec_type)
    return listed[0] if listed else Listing(spec, spec.con_id)


def contract_for(venue: SimVenue, symbol: str, con_id: int = 0) -> WireContract:
    listing = listing_for(venue, symbol, con_id)
    if listing is None:
        return WireContract(con_id=0, symbol=symbol)
    return wire_contract(listing)


def wire_order(venue: SimVenue, order: SimOrder, status: str | None = None) -> WireOrder:
    """An openOrder/orderStatus view of a venue order; `status` overrides the derived one."""
    parent_id = 0
    if order.parent_perm_id is not None:
        parent = venue.order(order.parent_perm_id)
        parent_id = parent.order_id if parent else 0
    limit = order.limit_price
    aux = order.stop_price
    return WireOrder(
        contract=contract_for(venue, order.symbol, order.con_id),
        order_id=order.order_id,
        client_id=order.client_id,
        perm_id=order.perm_id,
        parent_id=parent_id,
        action=order.side.value,
        quantity=order.quantity,
        order_type=order.order_type.value,
        limit_price=limit,
        aux_price=aux,
        tif=order.tif.value,
        oca_group=order.oca_group,
        account=order.account,
        order_ref=order.order_ref,
        status=status or tws_status(order),
        filled=order.filled,
        remaining=order.remaining,
        avg_fill_price=order.avg_fill_price or Decimal(0),
        last_fill_price=order.last_fill_price or Decimal(0),
    )


def wire_execution(venue: SimVenue, ex: Execution, req_id: int) -> WireExecution:
    return WireExecution(
        req_id=req_id,
        order_id=ex.order_id,
        client_id=ex.client_id,
        perm_id=ex.perm_id,
        contract=contract_for(venue, ex.symbol, ex.con_id),
        exec_id=ex.exec_id,
        time=ex.time,
        account=ex.account,
        side="BOT" if ex.side is Side.BUY else "SLD",
        shares=ex.quantity,
        price=ex.price,
        cum_qty=ex.cum_quantity,
        avg_price=ex.avg_price,
        order_ref=ex.order_ref,
    )
