"""The bar generator: determinism, tick grid, sessions, regimes, gaps; SimBroker's bar methods."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from broker.sim import SimBroker, SimVenue
from broker.sim.bars import bars_for_request, live_bar, session_bars
from broker.sim.scheduler import ManualScheduler
from contracts.broker import BarUpdated, BrokerEvent, OrderRequest, order_ref_for
from contracts.enums import OrderType, Side
from contracts.intent import Instrument
from contracts.market import BarRequest

TUESDAY = date(2026, 11, 24)
MES = Instrument(symbol="MES", sec_type="FUT", exchange="CME")


def test_same_arguments_same_bars_and_another_seed_differs() -> None:
    first = session_bars("MES", TUESDAY, seed=5)
    assert first == session_bars("MES", TUESDAY, seed=5)
    assert first != session_bars("MES", TUESDAY, seed=6)


def test_globex_day_and_stock_session_lengths() -> None:
    mes = session_bars("MES", TUESDAY, seed=1)
    assert len(mes) == 23 * 60  # 17:00 CT Monday to 16:00 CT Tuesday
    assert mes[0].ts == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert mes[-1].ts == datetime(2026, 11, 24, 21, 59, tzinfo=UTC)
    aapl = session_bars("AAPL", TUESDAY, seed=1)
    assert len(aapl) == 390 and aapl[0].ts == datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    assert session_bars("MES", date(2026, 11, 28), seed=1) == []  # Saturday
    assert session_bars("AAPL", date(2026, 11, 26), seed=1) == []  # Thanksgiving
    assert len(session_bars("MES", date(2026, 11, 26), seed=1)) == 19 * 60  # early close


def test_prices_sit_on_the_tick_grid_and_bars_are_consistent() -> None:
    for symbol, tick in (
        ("MES", Decimal("0.25")),
        ("NQ", Decimal("0.25")),
        ("AAPL", Decimal("0.01")),
    ):
        for bar in session_bars(symbol, TUESDAY, seed=3):
            for price in (bar.open, bar.high, bar.low, bar.close):
                assert price % tick == 0
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high


def test_minute_bars_are_aggregates_of_five_second_bars() -> None:
    minutes = session_bars("MES", TUESDAY, seed=2)
    fives = session_bars("MES", TUESDAY, seed=2, bar_seconds=5)
    for index in (0, 500, len(minutes) - 1):
        part = fives[index * 12 : index * 12 + 12]
        minute = minutes[index]
        assert minute.open == part[0].open and minute.close == part[-1].close
        assert minute.high == max(b.high for b in part) and minute.low == min(b.low for b in part)
        assert minute.volume == sum(b.volume for b in part)
    assert live_bar("MES", fives[700].ts + timedelta(seconds=2), seed=2) == fives[700]
    with pytest.raises(ValueError, match="multiple of 5"):
        session_bars("MES", TUESDAY, seed=2, bar_seconds=7)


def test_regimes_show_as_bursts_trends_and_gaps_at_the_open() -> None:
    days = [date(2026, 11, 2) + timedelta(days=i) for i in range(28)]
    gaps = []
    previous = None
    burst_days = 0
    for day in days:
        bars = session_bars("MES", day, seed=9)
        if not bars:
            continue
        ranges = [b.high - b.low for b in bars]
        if max(ranges) >= 4 * statistics.median(ranges):
            burst_days += 1
        if previous is not None:
            gaps.append(abs(bars[0].open - previous.close) / previous.close)
        previous = bars[-1]
    assert burst_days >= len(gaps) // 2
    assert any(g > Decimal("0.002") for g in gaps)  # a real gap at the open
    assert all(g < Decimal("0.02") for g in gaps)
    moves = [
        abs(b[-1].close - b[0].open) for b in (session_bars("ES", d, seed=9) for d in days) if b
    ]
    assert max(moves) > 4 * min(moves)  # trending days next to quiet ones


def test_historical_request_one_day_of_minutes_and_rth_only() -> None:
    end = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # Tuesday 12:00 CT
    bars = bars_for_request("MES", duration="1 D", bar_size="1 min", use_rth=False, end=end, seed=4)
    assert bars[0].ts == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert bars[-1].ts == end - timedelta(minutes=1)
    rth = bars_for_request("MES", duration="1 D", bar_size="5 mins", use_rth=True, end=end, seed=4)
    assert rth[0].ts == datetime(2026, 11, 24, 14, 30, tzinfo=UTC) and rth[0].seconds == 300
    two = bars_for_request("MES", duration="2 D", bar_size="1 hour", use_rth=False, end=end, seed=4)
    assert two[0].ts == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    secs = bars_for_request(
        "MES", duration="60 S", bar_size="5 secs", use_rth=False, end=end, seed=4
    )
    assert len(secs) == 12


async def test_sim_broker_streams_live_bars_and_pins_the_book() -> None:
    venue = SimVenue(3)  # manual clock, Monday 14:30 UTC: Globex is open
    broker = SimBroker(venue)
    events: list[BrokerEvent] = []
    broker.set_event_sink(events.append)
    await broker.connect()
    await broker.subscribe_bars(MES)
    assert isinstance(venue.scheduler, ManualScheduler)
    venue.scheduler.advance(10)
    bars = [e for e in events if isinstance(e, BarUpdated)]
    assert [b.bar.seconds for b in bars] == [5, 5]
    assert bars[1].bar.ts - bars[0].bar.ts == timedelta(seconds=5)
    assert not bars[1].gap_before and not bars[1].late
    assert venue.quote("MES").bid == bars[-1].bar.close
    assert bars[0].bar == live_bar("MES", bars[0].bar.ts, seed=3)
    history = await broker.historical_bars(MES, BarRequest(duration="1 D", bar_size="1 min"))
    assert history[-1].ts < venue.scheduler.now()


async def test_what_if_and_modify() -> None:
    venue = SimVenue(3)
    broker = SimBroker(venue)
    await broker.connect()
    order = OrderRequest(
        order_ref=order_ref_for("w1"),
        instrument=MES.model_copy(update={"multiplier": Decimal(5), "tick_size": Decimal("0.25")}),
        side=Side.BUY,
        quantity=Decimal(1),
        order_type=OrderType.MARKET,
    )
    preview = await broker.what_if(order)
    assert preview.init_margin_change == Decimal(2475)
    assert preview.maint_margin_change == Decimal(2250)
    assert preview.commission == Decimal("0.62")
    assert preview.equity_with_loan_after == Decimal(100000) - Decimal("0.62")
    assert venue.orders() == []  # nothing placed
    bid = venue.quote("MES").bid
    resting = order.model_copy(update={"order_type": OrderType.LIMIT, "limit_price": bid - 10})
    await broker.submit(resting)
    await broker.modify(resting.order_ref, limit_price=bid - 5, quantity=Decimal(2))
    [live] = venue.orders(open_only=True)
    assert live.limit_price == bid - 5 and live.quantity == 2


async def test_the_daily_break_is_not_reported_as_a_gap() -> None:
    clock = ManualScheduler(datetime(2026, 11, 23, 21, 59, 50, tzinfo=UTC))  # 15:59:50 Chicago
    venue = SimVenue(3, scheduler=clock)
    broker = SimBroker(venue)
    events: list[BrokerEvent] = []
    broker.set_event_sink(events.append)
    await broker.connect()
    await broker.subscribe_bars(MES)
    clock.advance(3620)  # through the 16:00-17:00 maintenance break
    bars = [e for e in events if isinstance(e, BarUpdated)]
    assert [b.bar.ts.minute for b in bars[:2]] == [59, 59]
    reopened = bars[2]
    assert reopened.bar.ts == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert not reopened.gap_before and not any(b.gap_before for b in bars)
