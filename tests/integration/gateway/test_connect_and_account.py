"""Connecting, account values, summary, current time, contract details, market data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ib_async import IB, MarketOrder, Stock

from broker.gateway import GatewayServer, running_gateway
from tests.integration.gateway.conftest import ACCOUNT, Connect, Errors, aapl, eventually

MONEY_TAGS = {
    "NetLiquidation", "AvailableFunds", "BuyingPower", "TotalCashValue",
    "InitMarginReq", "MaintMarginReq", "Cushion",
}  # fmt: skip


async def test_connect_answers_every_sync_request_and_reports_farms(connect: Connect) -> None:
    errors = Errors()
    ib = await connect(1, errors)  # raiseSyncErrors: any unanswered request would raise
    assert ib.isConnected()
    assert ib.managedAccounts() == [ACCOUNT]
    assert {2104, 2106, 2158} <= set(errors.codes(-1))
    values = {v.tag: v.value for v in ib.accountValues() if v.modelCode == ""}
    assert set(values) >= MONEY_TAGS
    assert float(values["NetLiquidation"]) == 100000.0
    assert float(values["BuyingPower"]) == 400000.0


async def test_account_summary_and_current_time(connect: Connect) -> None:
    ib = await connect(2)
    summary = await ib.accountSummaryAsync(ACCOUNT)
    tags = {v.tag for v in summary}
    assert tags >= MONEY_TAGS
    now = await ib.reqCurrentTimeAsync()
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


async def test_contract_details_qualify_and_unknown_symbol(connect: Connect) -> None:
    ib = await connect(3)
    [contract] = await ib.qualifyContractsAsync(aapl())
    assert contract.conId == 265598 and contract.primaryExchange == "NASDAQ"
    errors = Errors()
    ib.errorEvent += errors
    assert await ib.reqContractDetailsAsync(Stock("NOPE", "SMART", "USD")) == []
    assert 200 in errors.codes()


async def test_market_data_ticks_stream(gateway: GatewayServer, connect: Connect) -> None:
    ib = await connect(4)
    [contract] = await ib.qualifyContractsAsync(aapl())
    ticker = ib.reqMktData(contract)
    seen: list[tuple[float, float]] = []
    for _ in range(10):
        gateway.venue.step("AAPL")
        q = gateway.venue.quote("AAPL")
        await eventually(
            lambda q=q: (
                (ticker.bid, ticker.ask, ticker.last)  # type: ignore[misc]
                == (float(q.bid), float(q.ask), float(q.last))
            ),
            what="ticker follows the venue",
        )
        seen.append((ticker.bid, ticker.ask))
    assert len(set(seen)) > 3
    assert ticker.bidSize > 0 and ticker.askSize > 0
    ib.cancelMktData(ticker.contract)


async def test_server_version_178_connects() -> None:
    async with running_gateway(seed=1, server_version=178) as server:
        ib = IB()
        try:
            await ib.connectAsync("127.0.0.1", server.port, clientId=1, raiseSyncErrors=True)
            assert ib.client.serverVersion() == 178
            trade = ib.placeOrder(aapl(), MarketOrder("BUY", 1))
            await eventually(lambda: trade.isDone())
            assert trade.orderStatus.status == "Filled" and trade.fills
        finally:
            ib.disconnect()


async def test_client_id_in_use_gets_326(connect: Connect, gateway: GatewayServer) -> None:
    await connect(7)
    errors = Errors()
    second = IB()
    second.errorEvent += errors
    try:
        await second.connectAsync("127.0.0.1", gateway.port, clientId=7, timeout=0.5)
    except (ConnectionError, TimeoutError, OSError):
        pass
    else:  # pragma: no cover - the point of the test
        raise AssertionError("a second client with the same id connected")
    finally:
        second.disconnect()
    assert 326 in errors.codes(-1)
    assert gateway.connected_clients() == [7]
