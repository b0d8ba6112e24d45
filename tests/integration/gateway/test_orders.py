"""Order flows as real TWS answers them: fills, cancels, partials, rejects, modifies."""

from __future__ import annotations

from decimal import Decimal

from ib_async import LimitOrder, MarketOrder, Order, Trade

from broker.gateway import GatewayServer
from broker.sim import VenueOrderStatus
from tests.integration.gateway.conftest import Connect, Errors, aapl, eventually


def statuses(trade: Trade) -> list[str]:
    """The distinct status sequence in a trade's log."""
    out: list[str] = []
    for entry in trade.log:
        if not out or out[-1] != entry.status:
            out.append(entry.status)
    return out


def resting_buy(gateway: GatewayServer, quantity: int = 10, ref: str = "") -> LimitOrder:
    price = float(gateway.venue.quote("AAPL").bid - Decimal("5.00"))
    return LimitOrder("BUY", quantity, price, orderRef=ref)


async def test_market_order_presubmitted_submitted_filled(
    gateway: GatewayServer, connect: Connect
) -> None:
    ib = await connect(1)
    order = MarketOrder("BUY", 10, orderRef="dg:intent-1:ENTRY")
    trade = ib.placeOrder(aapl(), order)
    commissions: list[float] = []
    trade.commissionReportEvent += lambda t, fill, report: commissions.append(report.commission)
    await eventually(lambda: trade.isDone() and commissions, what="fill + commission")
    assert statuses(trade) == ["PendingSubmit", "PreSubmitted", "Submitted", "Filled"]
    [fill] = trade.fills
    assert fill.execution.orderRef == "dg:intent-1:ENTRY"
    assert fill.execution.clientId == 1 and fill.execution.permId == trade.order.permId
    assert fill.execution.shares == 10 and fill.execution.price == float(
        gateway.venue.quote("AAPL").ask
    )
    assert commissions == [1.0]
    assert trade.orderStatus.filled == 10 and trade.orderStatus.remaining == 0
    await eventually(lambda: [p.position for p in ib.positions()] == [10.0], what="position")
    await eventually(lambda: any(i.position == 10 for i in ib.portfolio()), what="portfolio update")


async def test_resting_limit_cancel_pending_cancel_cancelled_202(
    gateway: GatewayServer, connect: Connect
) -> None:
    errors = Errors()
    ib = await connect(2, errors)
    trade = ib.placeOrder(aapl(), resting_buy(gateway))
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    ib.cancelOrder(trade.order)
    await eventually(lambda: trade.orderStatus.status == "Cancelled", what="Cancelled")
    await eventually(lambda: 202 in errors.codes(trade.order.orderId), what="error 202")
    assert statuses(trade)[-2:] == ["PendingCancel", "Cancelled"]
    assert gateway.venue.order(trade.order.permId).status is VenueOrderStatus.CANCELLED  # type: ignore[union-attr]
    assert trade.fills == []


async def test_partial_fill_then_complete(gateway: GatewayServer, connect: Connect) -> None:
    ib = await connect(3)
    gateway.faults.partial_fill_next_orders()
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 100))
    await eventually(lambda: len(trade.fills) == 1, what="first partial fill")
    assert 0 < trade.orderStatus.filled < 100
    assert trade.orderStatus.status == "Submitted"
    gateway.venue.step("AAPL")
    await eventually(lambda: trade.orderStatus.status == "Filled", what="rest filled")
    assert len(trade.fills) == 2
    assert sum(f.execution.shares for f in trade.fills) == 100
    assert trade.fills[-1].execution.cumQty == 100


async def test_rejection_201_keeps_the_reason(gateway: GatewayServer, connect: Connect) -> None:
    errors = Errors()
    ib = await connect(4, errors)
    gateway.faults.reject_next_orders(reason="Order rejected - reason:insufficient margin")
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10))
    await eventually(lambda: 201 in errors.codes(trade.order.orderId), what="error 201")
    [(_, _, text)] = [e for e in errors.seen if e[1] == 201]
    assert text == "Order rejected - reason:insufficient margin"
    assert trade.orderStatus.status == "Cancelled" and trade.fills == []


async def test_order_beyond_margin_is_rejected_201(connect: Connect) -> None:
    errors = Errors()
    ib = await connect(5, errors)
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 5000))  # ~950k notional on 100k equity
    await eventually(lambda: 201 in errors.codes(trade.order.orderId), what="margin reject")
    assert "INITIAL MARGIN" in next(m for _, c, m in errors.seen if c == 201)


async def test_missing_exchange_is_321(connect: Connect) -> None:
    errors = Errors()
    ib = await connect(6, errors)
    contract = aapl()
    contract.exchange = ""
    trade = ib.placeOrder(contract, MarketOrder("BUY", 1))
    await eventually(lambda: 321 in errors.codes(trade.order.orderId), what="error 321")
    assert "Missing order exchange" in next(m for _, c, m in errors.seen if c == 321)


async def test_duplicate_order_id_103(gateway: GatewayServer, connect: Connect) -> None:
    errors = Errors()
    ib = await connect(7, errors)
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 1))
    await eventually(lambda: trade.isDone(), what="first order filled")
    # send a brand-new order under the used id, straight through the client
    ib.client.placeOrder(trade.order.orderId, aapl(), MarketOrder("SELL", 1))
    await eventually(lambda: 103 in errors.codes(trade.order.orderId), what="error 103")
    assert len(gateway.venue.orders()) == 1


async def test_modify_existing_order(gateway: GatewayServer, connect: Connect) -> None:
    ib = await connect(8)
    trade = ib.placeOrder(aapl(), resting_buy(gateway))
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    new_price = round(trade.order.lmtPrice - 1.0, 2)
    trade.order.lmtPrice = new_price
    trade.order.totalQuantity = 20
    ib.placeOrder(aapl(), trade.order)
    await eventually(lambda: trade.orderStatus.remaining == 20, what="modify acknowledged")
    assert trade.orderStatus.status == "Submitted"
    venue_order = gateway.venue.order(trade.order.permId)
    assert venue_order is not None
    assert venue_order.limit_price == Decimal(str(new_price)) and venue_order.quantity == 20
    # modify into the market: it fills
    trade.order.lmtPrice = float(gateway.venue.quote("AAPL").ask + Decimal("1.00"))
    ib.placeOrder(aapl(), trade.order)
    await eventually(lambda: trade.orderStatus.status == "Filled", what="filled after modify")
    assert trade.orderStatus.filled == 20


async def test_failed_modify_leaves_the_order_live(
    gateway: GatewayServer, connect: Connect
) -> None:
    errors = Errors()
    ib = await connect(9, errors)
    trade = ib.placeOrder(aapl(), resting_buy(gateway))
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    original = trade.order.lmtPrice
    gateway.faults.fail_next_modify(code=104, message="Cannot modify a filled order.")
    modified = Order(**{**trade.order.__dict__, "lmtPrice": round(original - 1.0, 2)})
    ib.client.placeOrder(trade.order.orderId, aapl(), modified)
    await eventually(lambda: 104 in errors.codes(trade.order.orderId), what="error 104")
    # ib_async now believes the order is cancelled; the venue and TWS say otherwise
    assert trade.orderStatus.status == "Cancelled"
    open_trades = await ib.reqOpenOrdersAsync()
    [live] = [t for t in open_trades if t.order.permId == trade.order.permId]
    assert live.order.lmtPrice == original
    venue_order = gateway.venue.order(trade.order.permId)
    assert venue_order is not None and venue_order.is_open


async def test_global_cancel(gateway: GatewayServer, connect: Connect) -> None:
    ib = await connect(10)
    trades = [ib.placeOrder(aapl(), resting_buy(gateway, 5 + i)) for i in range(3)]
    await eventually(lambda: all(t.orderStatus.status == "Submitted" for t in trades))
    ib.reqGlobalCancel()
    await eventually(lambda: all(t.orderStatus.status == "Cancelled" for t in trades))
    assert gateway.venue.orders(open_only=True) == []


async def test_bracket_children_activate_then_oca(gateway: GatewayServer, connect: Connect) -> None:
    ib = await connect(11)
    gateway.venue.set_price("AAPL", Decimal("100.00"), Decimal("100.02"))
    parent, take_profit, stop_loss = ib.bracketOrder("BUY", 10, 99.0, 101.0, 98.0)
    trades = [ib.placeOrder(aapl(), o) for o in (parent, take_profit, stop_loss)]
    await eventually(lambda: trades[0].orderStatus.status == "Submitted", what="parent working")
    await eventually(lambda: all(t.orderStatus.status == "PreSubmitted" for t in trades[1:]))
    gateway.venue.set_price("AAPL", Decimal("98.95"), Decimal("98.97"))
    await eventually(lambda: trades[0].orderStatus.status == "Filled", what="parent filled")
    await eventually(lambda: all(t.orderStatus.status == "Submitted" for t in trades[1:]))
    gateway.venue.set_price("AAPL", Decimal("101.10"), Decimal("101.12"))
    await eventually(lambda: trades[1].orderStatus.status == "Filled", what="target filled")
    await eventually(lambda: trades[2].orderStatus.status == "Cancelled", what="stop cancelled")
    assert trades[1].order.parentId == trades[0].order.orderId


async def test_what_if_reports_margin(connect: Connect) -> None:
    ib = await connect(12)
    state = await ib.whatIfOrderAsync(aapl(), MarketOrder("BUY", 100))
    assert float(state.initMarginChange) > 0
    assert float(state.commission) == 1.0
    assert ib.openTrades() == []
