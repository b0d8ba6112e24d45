"""Futures and bars through a real ib_async client: details, history, live bars, whatIf, fills."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ib_async import IB, Future, MarketOrder

from broker.gateway import GatewayServer, running_gateway
from broker.sim.bars import live_bar
from tests.integration.gateway.conftest import ACCOUNT, eventually

TUESDAY_MORNING = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 09:00 Chicago, Globex open
SEED = 21
BAR_CLOCK_SPEED = 10.0  # the venue's clock, live bars included, runs this much faster


def on_grid(price: float, tick: str = "0.25") -> bool:
    return Decimal(str(price)) % Decimal(tick) == 0


@pytest.fixture
async def futures_gateway() -> AsyncIterator[GatewayServer]:
    async with running_gateway(seed=SEED, account=ACCOUNT, clock_start=TUESDAY_MORNING) as server:
        yield server


@pytest.fixture
async def fast_futures_gateway() -> AsyncIterator[GatewayServer]:
    """The futures gateway with its clock at `BAR_CLOCK_SPEED`: a 5-second bar every 0.5 s."""
    async with running_gateway(
        seed=SEED, account=ACCOUNT, clock_start=TUESDAY_MORNING, clock_speed=BAR_CLOCK_SPEED
    ) as server:
        yield server


async def _connected(gateway: GatewayServer) -> AsyncIterator[IB]:
    client = IB()
    await client.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=3)
    yield client
    client.disconnect()


@pytest.fixture
async def ib(futures_gateway: GatewayServer) -> AsyncIterator[IB]:
    async for client in _connected(futures_gateway):
        yield client


@pytest.fixture
async def fast_ib(fast_futures_gateway: GatewayServer) -> AsyncIterator[IB]:
    async for client in _connected(fast_futures_gateway):
        yield client


def mes(expiry: str = "") -> Future:
    return Future("MES", expiry, "CME")


async def test_mes_details_front_month_every_expiry_and_by_con_id(ib: IB) -> None:
    details = await ib.reqContractDetailsAsync(mes())
    months = [d.contract.lastTradeDateOrContractMonth for d in details]
    assert months == ["20261218", "20270319", "20270618", "20270917"]
    front = details[0]
    assert front.contract.multiplier == "5" and front.minTick == 0.25
    assert front.contract.localSymbol == "MESZ6" and front.contract.tradingClass == "MES"
    assert front.contract.exchange == "CME" and front.contract.secType == "FUT"
    assert front.contractMonth == "202612" and front.realExpirationDate == "20261218"
    assert front.timeZoneId == "US/Central"
    assert front.tradingHours.startswith("20261124:1700-20261125:1600") is False
    assert "20261123:1700-20261124:1600" in front.tradingHours
    assert "20261124:0830-20261124:1500" in front.liquidHours
    [by_id] = await ib.reqContractDetailsAsync(Future(conId=front.contract.conId))
    assert by_id.contract.localSymbol == "MESZ6"
    [by_month] = await ib.reqContractDetailsAsync(mes("202703"))
    assert by_month.contract.localSymbol == "MESH7"
    assert await ib.reqContractDetailsAsync(Future("MES", "202501", "CME")) == []


async def test_a_day_of_one_minute_bars(ib: IB) -> None:
    [contract] = await ib.qualifyContractsAsync(mes("202612"))
    bars = await ib.reqHistoricalDataAsync(
        contract, "", "1 D", "1 min", "TRADES", useRTH=False, formatDate=2
    )
    assert len(bars) == 16 * 60  # Monday 17:00 to Tuesday 09:00 Chicago
    assert bars[0].date == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert bars[-1].date == TUESDAY_MORNING - timedelta(minutes=1)
    assert all(on_grid(b.open) and on_grid(b.high) and on_grid(b.low) for b in bars)
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    rth = await ib.reqHistoricalDataAsync(contract, "", "1 D", "5 mins", "TRADES", useRTH=True)
    assert len(rth) == 6  # 08:30 to 09:00 Chicago
    assert rth[0].date.hour == 8 and rth[0].date.minute == 30  # exchange time zone


async def test_live_five_second_bars(fast_ib: IB, fast_futures_gateway: GatewayServer) -> None:
    ib, futures_gateway = fast_ib, fast_futures_gateway
    [contract] = await ib.qualifyContractsAsync(mes("202612"))
    bars = ib.reqRealTimeBars(contract, 5, "TRADES", False)
    await eventually(lambda: len(bars) >= 1, timeout=8, what="a real-time bar")
    bar = bars[0]
    expected = live_bar("MES", bar.time, seed=SEED)
    assert expected is not None
    assert Decimal(str(bar.close)) == expected.close and bar.volume == float(expected.volume)
    assert futures_gateway.venue.quote("MES").bid == expected.close  # the book follows the bars
    ib.cancelRealTimeBars(bars)


async def test_what_if_margin_preview_places_nothing(
    ib: IB, futures_gateway: GatewayServer
) -> None:
    [contract] = await ib.qualifyContractsAsync(mes("202612"))
    state = await ib.whatIfOrderAsync(contract, MarketOrder("BUY", 1))
    assert float(state.initMarginChange) == 2475.0
    assert float(state.maintMarginChange) == 2250.0
    assert state.commission == 0.62 and state.commissionCurrency == "USD"
    assert float(state.equityWithLoanAfter) == 100000 - 0.62
    assert futures_gateway.venue.orders() == []


async def test_one_lot_mes_market_order_fills_with_the_multiplier(
    ib: IB, futures_gateway: GatewayServer
) -> None:
    venue = futures_gateway.venue
    venue.set_price("MES", Decimal("5900.00"), Decimal("5900.25"))
    [contract] = await ib.qualifyContractsAsync(mes("202612"))
    trade = ib.placeOrder(contract, MarketOrder("BUY", 1))
    await eventually(lambda: trade.isDone() and trade.fills, what="MES fill")
    [fill] = trade.fills
    assert fill.execution.price == 5900.25 and fill.contract.localSymbol == "MESZ6"
    await eventually(lambda: fill.commissionReport.commission == 0.62, what="commission")
    await eventually(lambda: [p.position for p in ib.positions()] == [1.0], what="position")
    [position] = ib.positions()
    assert position.avgCost == 5900.25 * 5 and position.contract.multiplier == "5"
    venue.set_price("MES", Decimal("5903.25"), Decimal("5903.50"))
    close = ib.placeOrder(contract, MarketOrder("SELL", 1))
    await eventually(lambda: close.isDone() and close.fills, what="closing fill")
    await eventually(lambda: close.fills[0].commissionReport.realizedPNL != 0, what="P&L")
    assert close.fills[0].commissionReport.realizedPNL == 3.0 * 5  # 12 ticks x $1.25


async def test_futures_ticks_sit_on_the_grid(ib: IB, futures_gateway: GatewayServer) -> None:
    [contract] = await ib.qualifyContractsAsync(mes("202612"))
    ticker = ib.reqMktData(contract)
    futures_gateway.venue.step("MES")
    await eventually(lambda: ticker.bid > 0 and ticker.ask > 0, what="MES quote")
    assert on_grid(ticker.bid) and on_grid(ticker.ask) and ticker.ask > ticker.bid


async def test_daily_bars_keep_up_to_date_and_head_timestamp(fast_ib: IB) -> None:
    ib = fast_ib
    [contract] = await ib.qualifyContractsAsync(mes("202612"))
    daily = await ib.reqHistoricalDataAsync(contract, "", "5 D", "1 day", "TRADES", useRTH=False)
    assert [str(b.date) for b in daily] == [
        "2026-11-18",
        "2026-11-19",
        "2026-11-20",
        "2026-11-23",
        "2026-11-24",
    ]
    live = await ib.reqHistoricalDataAsync(
        contract, "", "600 S", "1 min", "TRADES", useRTH=False, keepUpToDate=True
    )
    assert 9 <= len(live) <= 10  # whole minutes inside the last 600 s
    updates: list[object] = []
    live.updateEvent += lambda bars, has_new_bar: updates.append(bars[-1])
    await eventually(lambda: updates, timeout=8, what="a keepUpToDate update")
    assert on_grid(live[-1].close)
    ib.cancelHistoricalData(live)
    head = await ib.reqHeadTimeStampAsync(contract, "TRADES", False, 1)
    assert isinstance(head, datetime) and head.year == 2024
