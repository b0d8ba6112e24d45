"""Fault injection: drops, connectivity codes, delayed acks, races, pacing."""

from __future__ import annotations

import asyncio

from ib_async import IB, MarketOrder

from broker.gateway import GatewayServer, PacingPolicy, running_gateway
from tests.integration.gateway.conftest import Connect, Errors, aapl, eventually
from tests.integration.gateway.test_orders import resting_buy


async def test_drop_connection_disconnects_the_client(
    gateway: GatewayServer, connect: Connect
) -> None:
    ib = await connect(1)
    dropped = asyncio.Event()
    ib.disconnectedEvent += dropped.set
    assert gateway.faults.drop_connections(client_id=1) == 1
    await asyncio.wait_for(dropped.wait(), 3)
    assert not ib.isConnected()
    await eventually(lambda: gateway.connected_clients() == [], what="session gone")


async def test_connectivity_lost_then_restored(gateway: GatewayServer, connect: Connect) -> None:
    errors = Errors()
    await connect(2, errors)
    gateway.faults.connectivity_lost()
    gateway.faults.connectivity_restored(data_lost=True)
    gateway.faults.connectivity_lost()
    gateway.faults.connectivity_restored(data_lost=False)
    await eventually(lambda: errors.codes(-1)[-4:] == [1100, 1101, 1100, 1102])


async def test_delayed_ack_stays_pending_then_fills(
    gateway: GatewayServer, connect: Connect
) -> None:
    ib = await connect(3)
    gateway.faults.delay_next_acks(0.4)
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 1))
    await ib.reqCurrentTimeAsync()  # a full round trip after the order reached the gateway
    assert trade.orderStatus.status == "PendingSubmit"
    await eventually(lambda: trade.orderStatus.status == "Filled", what="late ack + fill")
    assert [e.status for e in trade.log][:2] == ["PendingSubmit", "PreSubmitted"]


async def test_fill_beats_the_cancel(gateway: GatewayServer, connect: Connect) -> None:
    errors = Errors()
    ib = await connect(4, errors)
    trade = ib.placeOrder(aapl(), resting_buy(gateway))
    await eventually(lambda: trade.orderStatus.status == "Submitted")
    gateway.faults.fill_on_next_cancel()
    ib.cancelOrder(trade.order)
    await eventually(lambda: 10148 in errors.codes(trade.order.orderId), what="error 10148")
    assert trade.orderStatus.status == "Filled"
    assert len(trade.fills) == 1


async def test_fill_during_disconnect_is_visible_after_reconnect(
    gateway: GatewayServer, connect: Connect
) -> None:
    ib = await connect(5)
    trade = ib.placeOrder(aapl(), resting_buy(gateway, ref="dg:gap:ENTRY"))
    await eventually(lambda: trade.orderStatus.status == "Submitted")
    order_id, perm_id = trade.order.orderId, trade.order.permId
    ib.disconnect()
    await eventually(lambda: gateway.connected_clients() == [], what="gateway saw the drop")
    execution = gateway.faults.fill_order(5, order_id)
    again = await connect(5)
    fills = await again.reqExecutionsAsync()
    [fill] = [f for f in fills if f.execution.permId == perm_id]
    assert fill.execution.execId == execution.exec_id
    assert fill.execution.orderRef == "dg:gap:ENTRY"
    [stored] = [f for f in again.fills() if f.execution.execId == execution.exec_id]
    assert stored.commissionReport.commission == float(execution.commission)
    completed = await again.reqCompletedOrdersAsync(False)
    assert any(t.order.permId == perm_id and t.orderStatus.status == "Filled" for t in completed)
    assert [p.position for p in again.positions()] == [10.0]


async def test_message_rate_over_50_gives_error_100(connect: Connect) -> None:
    errors = Errors()
    ib = await connect(6, errors)
    ib.client.MaxRequests = 0  # switch off ib_async's own throttle to exceed TWS's limit
    for _ in range(80):
        ib.client.reqCurrentTime()
    await eventually(lambda: 100 in errors.codes(-1), what="error 100")
    assert ib.isConnected()
    assert errors.codes(-1).count(100) == 1


async def test_repeated_rate_violations_disconnect() -> None:
    async with running_gateway(seed=3, pacing=PacingPolicy(max_violations=2)) as server:
        ib = IB()
        errors = Errors()
        ib.errorEvent += errors
        dropped = asyncio.Event()
        ib.disconnectedEvent += dropped.set
        try:
            await ib.connectAsync("127.0.0.1", server.port, clientId=1, raiseSyncErrors=True)
            ib.client.MaxRequests = 0
            loop = asyncio.get_running_loop()
            for _ in range(60):
                ib.client.reqCurrentTime()
            first = loop.time()
            await eventually(lambda: 100 in errors.codes(-1), what="first error 100")
            await eventually(lambda: loop.time() - first > 1.05, what="next pacing window")
            for _ in range(60):
                ib.client.reqCurrentTime()
            await asyncio.wait_for(dropped.wait(), 3)
            assert errors.codes(-1).count(100) == 2
        finally:
            ib.disconnect()


async def test_a_gateway_bug_on_one_request_answers_321_and_keeps_the_session(
    gateway: GatewayServer, connect: Connect
) -> None:
    errors = Errors()
    ib = await connect(client_id=31, errors=errors)
    (session,) = [s for s in gateway.sessions if s.client_id == 31]

    def broken(fields: list[str]) -> None:
        raise KeyError("a bug in the gateway")

    session._handlers[49] = broken  # reqCurrentTime
    ib.client.reqCurrentTime()
    await eventually(lambda: 321 in errors.codes(), what="error 321")
    assert ib.isConnected()
    summary = await ib.accountSummaryAsync()  # the same session still answers
    assert any(v.tag == "NetLiquidation" for v in summary)
