"""Version negotiation as TWS does it: each client is served at the highest version both speak,
with that version's layouts (ib_async's decoders from v157; a raw client below)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from ib_async import IB, Future, MarketOrder, Stock

from broker.gateway import GatewayServer, running_gateway
from broker.gateway.codec import encode_fields, frame
from broker.gateway.testing import RawClient
from tests.integration.gateway.conftest import ACCOUNT, eventually

TUESDAY_MORNING = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayServer]:
    async with running_gateway(seed=4, account=ACCOUNT, clock_start=TUESDAY_MORNING) as server:
        yield server


@pytest.mark.parametrize("version", [157, 160, 163, 165, 169, 176])
async def test_ib_async_capped_at_an_older_version_reads_every_answer(
    gateway: GatewayServer, version: int
) -> None:
    ib = IB()
    ib.client.MaxClientVersion = version
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=3, timeout=3, raiseSyncErrors=True)
    try:
        assert ib.client.serverVersion() == version
        [details] = await ib.reqContractDetailsAsync(Future("MES", "202612", "CME"))
        assert details.contract.multiplier == "5" and details.minTick == 0.25
        assert details.realExpirationDate == "20261218"
        state = await ib.whatIfOrderAsync(details.contract, MarketOrder("BUY", 1))
        assert float(state.initMarginChange) == 2475.0 and state.commission == 0.62
        aapl = Stock("AAPL", "SMART", "USD")
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef=f"v{version}"))
        await eventually(lambda: trade.isDone() and trade.fills, what="fill")
        await eventually(lambda: trade.fills[0].commissionReport.commission == 1.0, what="fee")
        assert trade.orderStatus.status == "Filled" and trade.order.orderRef == f"v{version}"
        [completed] = await ib.reqCompletedOrdersAsync(apiOnly=True)
        assert completed.order.permId == trade.order.permId
        [fill] = await ib.reqExecutionsAsync()
        assert fill.execution.orderRef == f"v{version}" and fill.execution.shares == 10
        bars = await ib.reqHistoricalDataAsync(details.contract, "", "60 S", "5 secs", "TRADES", 0)
        assert 11 <= len(bars) <= 12  # whole 5-second bars in the last minute
        await eventually(lambda: [p.position for p in ib.positions()] == [10.0], what="position")
    finally:
        ib.disconnect()


def place_order_v120(order_id: int, symbol: str, quantity: int, ref: str) -> list[object]:
    """placeOrder as IB's API writes it to a v120 server: a version field (45), faProfile and
    modelCode present, whatIf after algoId; the tail after whatIf is left out (unread)."""
    contract = [0, symbol, "STK", "", "0.0", "", "", "SMART", "", "USD", "", ""]
    head = [3, 45, order_id, *contract, "", "", "BUY", quantity, "MKT", "", "", "DAY", ""]
    head += [ACCOUNT, "", 0, ref, 1, 0, 0, 0, 0, 0, 0, 0]  # .. transmit, parent .. hidden
    head += ["", "", "", "", "", "", "", "", ""]  # shares alloc .. faProfile, modelCode
    head += [0, "", -1, 0, "", "", 0, "", "", 0, 0, "", 0, "", "", "", "", "", 0, "", ""]
    head += ["", ""]  # deltaNeutralOrderType, deltaNeutralAuxPrice
    head += [0, "", "", "", "", "", ""]  # continuousUpdate .. scalePriceIncrement
    head += ["", "", "", ""]  # scaleTable, activeStart, activeStop, hedgeType
    head += [0, "", "", 0, 0, "", ""]  # optOut, clearing x2, notHeld, dnc, algo, algoId
    return [*head, 0]  # whatIf


async def test_a_v100_to_v120_client_gets_v120_layouts(gateway: GatewayServer) -> None:
    client = await RawClient.open(gateway.port)
    assert (await client.handshake("v100..120"))[0] == "120"
    await client.start_api(5)
    await client.until(lambda f: f[0] == "9")  # managedAccounts, nextValidId
    farm = await client.next_frame()
    assert farm[:4] == ["4", "2", "-1", "2104"] and len(farm) == 5  # no json before v166

    client.send(9, 8, 1, 0, "MES", "FUT", "202612", "", "", "", "CME", "", "USD", "", "", 0)
    answers = await client.until(lambda f: f[0] == "52")
    details = next(f for f in answers if f[0] == "10")
    assert details[:4] == ["10", "8", "1", "MES"]  # a version field before v164
    assert len(details) == 33  # md size multiplier; no agg group (v121) and later fields

    client.send(*place_order_v120(7, "AAPL", 10, "old-client"))
    frames = await client.until(lambda f: f[0] == "59")  # commission report closes the fill
    open_order = next(f for f in frames if f[0] == "5")
    assert open_order[1:3] == ["34", "7"]  # version 34, then the orderId
    assert len(open_order) == 136 + 1 - 6 - 4 - 3 - 5  # what-if ext fields, gates 141..170
    status = next(f for f in frames if f[0] == "3" and f[3] == "Filled")
    assert status[1] == "6" and len(status) == 12  # versioned, no mktCapPrice before v131
    execution = next(f for f in frames if f[0] == "11")
    assert execution[1:4] == ["10", "-1", "7"] and len(execution) == 31  # no lastLiquidity
    assert execution[19:21] == ["BOT", "10"]

    client.send(20, 6, 3, 0, "MES", "FUT", "202612", "", "", "", "CME", "", "USD", "", "", 0,
                "", "5 secs", "60 S", 0, "TRADES", 2)  # fmt: skip
    history = await client.until(lambda f: f[0] == "17")
    bars = history[-1]
    assert bars[:3] == ["17", "3", "3"]  # version 3 before v124
    count = int(bars[5])
    assert count >= 11 and len(bars) == 6 + count * 9 and bars[13] == "false"  # hasGaps
    client.close()


async def test_a_client_above_the_gateway_is_served_at_the_gateways_version(
    gateway: GatewayServer,
) -> None:
    client = await RawClient.open(gateway.port)
    assert (await client.handshake("v157..190"))[0] == "176"
    client.close()
    newer = await RawClient.open(gateway.port)
    newer.send_raw(b"API\0" + frame(encode_fields(["v180..190"])))
    assert await newer.closed_by_peer()  # nothing in common: refused
