"""What TWS shows of other clients' orders, and the faults issue 16 proves against (ib_async)."""

from __future__ import annotations

from decimal import Decimal

from ib_async import LimitOrder, MarketOrder

from broker.gateway import GatewayServer
from contracts.enums import Side
from tests.integration.gateway.conftest import Connect, Errors, aapl, eventually


def resting_price(gateway: GatewayServer) -> float:
    return float(gateway.venue.quote("AAPL").bid - Decimal("5.00"))


async def test_every_clients_orders_are_visible_and_global_cancel_ends_them(
    gateway: GatewayServer, connect: Connect
) -> None:
    foreign = await connect(77)
    ours = await connect(1)
    placed = foreign.placeOrder(aapl(), LimitOrder("BUY", 5, resting_price(gateway), orderRef="x"))
    await eventually(lambda: placed.orderStatus.status == "Submitted", what="77's order live")
    manual = gateway.faults.place_manual_order("AAPL", Side.SELL, Decimal(3), Decimal("999.00"))
    assert [t.order.clientId for t in await ours.reqOpenOrdersAsync()] == []  # own orders only
    every = await ours.reqAllOpenOrdersAsync()
    assert sorted((t.order.clientId, t.order.permId) for t in every) == sorted(
        [(77, placed.order.permId), (0, manual.perm_id)]
    )
    assert {t.order.orderRef for t in every} == {"x", ""}
    ours.reqGlobalCancel()
    await eventually(lambda: not gateway.venue.orders(open_only=True), what="all cancelled")
    completed = await ours.reqCompletedOrdersAsync(apiOnly=False)
    finished = {t.order.permId: t.orderStatus.status for t in completed}
    assert finished == {placed.order.permId: "Cancelled", manual.perm_id: "Cancelled"}


async def test_executions_of_every_client_are_reported(
    gateway: GatewayServer, connect: Connect
) -> None:
    foreign = await connect(77)
    ours = await connect(1)
    trade = foreign.placeOrder(aapl(), MarketOrder("BUY", 10, orderRef="foreign-fill"))
    await eventually(lambda: trade.isDone(), what="77's fill")
    fills = await ours.reqExecutionsAsync()
    assert [(f.execution.clientId, f.execution.orderRef) for f in fills] == [(77, "foreign-fill")]


async def test_1101_drops_market_data_and_bars_until_resubscribed(
    gateway: GatewayServer, connect: Connect
) -> None:
    ib = await connect(1)
    [contract] = await ib.qualifyContractsAsync(aapl())
    ticker = ib.reqMktData(contract)
    gateway.venue.step("AAPL")
    await eventually(lambda: ticker.bid > 0, what="first ticks")
    ib.reqRealTimeBars(contract, 5, "TRADES", False)
    await eventually(lambda: gateway.bars.symbols == ["AAPL"], what="bar subscription")
    gateway.faults.connectivity_lost()
    gateway.faults.connectivity_restored(data_lost=True)
    assert gateway.bars.symbols == []
    updates: list[float] = []
    ticker.updateEvent += lambda t: updates.append(t.bid)
    for _ in range(5):
        gateway.venue.step("AAPL")
    await ib.reqCurrentTimeAsync()  # answered after anything the steps would have sent
    assert updates == []  # no tick since the 1101
    before = ticker.bid
    ib.cancelMktData(contract)
    again = ib.reqMktData(contract)
    gateway.venue.set_price("AAPL", Decimal(str(before)) + 1)
    await eventually(lambda: again.bid == before + 1, what="ticks after resubscribing")


async def test_1102_keeps_market_data(gateway: GatewayServer, connect: Connect) -> None:
    ib = await connect(1)
    [contract] = await ib.qualifyContractsAsync(aapl())
    ticker = ib.reqMktData(contract)
    await eventually(lambda: ticker.bid > 0, what="first ticks")
    gateway.faults.connectivity_lost()
    gateway.faults.connectivity_restored(data_lost=False)
    gateway.venue.set_price("AAPL", Decimal(str(ticker.bid)) + 2)
    await eventually(lambda: ticker.bid == float(gateway.venue.quote("AAPL").bid), what="ticks")


async def test_cancel_answered_with_10147_leaves_the_order_working(
    gateway: GatewayServer, connect: Connect
) -> None:
    errors = Errors()
    ib = await connect(1, errors)
    trade = ib.placeOrder(aapl(), LimitOrder("BUY", 5, resting_price(gateway)))
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="live order")
    gateway.faults.refuse_next_cancel()
    ib.cancelOrder(trade.order)
    await eventually(lambda: 10147 in errors.codes(trade.order.orderId), what="error 10147")
    [live] = gateway.venue.orders(open_only=True)
    assert live.perm_id == trade.order.permId


async def test_warnings_399_and_404_change_nothing(
    gateway: GatewayServer, connect: Connect
) -> None:
    errors = Errors()
    ib = await connect(1, errors)
    trade = ib.placeOrder(aapl(), LimitOrder("SELL", 5, resting_price(gateway) + 20))
    await eventually(lambda: trade.orderStatus.status == "Submitted", what="live order")
    gateway.faults.warn_order(1, trade.order.orderId, 399)
    gateway.faults.warn_order(1, trade.order.orderId, 404)
    await eventually(lambda: 404 in errors.codes(trade.order.orderId), what="both warnings")
    assert errors.codes(trade.order.orderId) == [399, 404]
    # ib_async marks the trade 'ValidationError' locally; the gateway sent no status at all
    assert "Cancelled" not in [entry.status for entry in trade.log]
    assert gateway.venue.orders(open_only=True)[0].perm_id == trade.order.permId


async def test_read_only_api_refuses_order_entry_with_321(
    gateway: GatewayServer, connect: Connect
) -> None:
    gateway.faults.set_read_only()
    errors = Errors()
    ib = await connect(1, errors)
    await eventually(lambda: 321 in errors.codes(2147483647), what="reqOpenOrders refused")
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 1))
    await eventually(lambda: 321 in errors.codes(trade.order.orderId), what="order refused")
    [text] = [m for r, c, m in errors.seen if r == trade.order.orderId]
    assert "The API interface is currently in Read-Only mode." in text
    assert gateway.venue.orders() == []
    assert await ib.reqContractDetailsAsync(aapl())  # reading still works
