"""Futures, bars, what-if and modify through the real adapter (ib_async) against the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from broker.gateway.server import GatewayServer
from broker.gateway.testing import running_gateway
from broker.ibkr import IbkrBroker
from contracts.broker import (
    BarUpdated,
    BrokerConnected,
    BrokerDisconnected,
    ConnectivityChanged,
    ModifyRejected,
    OrderFilled,
    OrderRequest,
    PositionUpdated,
    order_ref_for,
)
from contracts.enums import OrderType, Side
from contracts.intent import Instrument
from contracts.market import BarRequest, ContractFacts
from engine.clock import ManualClock
from tests.integration.ibkr.conftest import FastSleep, Recorder, Rig, eventually, limit

TUESDAY_MORNING = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 09:00 Chicago, Globex open
MES_ROOT = Instrument(symbol="MES", sec_type="FUT", exchange="CME")
BAR_CLOCK_SPEED = 10.0  # the venue's clock, bars included, runs this much faster than real time


@dataclass
class FuturesDesk:
    gateway: GatewayServer
    broker: IbkrBroker
    events: Recorder


@asynccontextmanager
async def futures_desk(clock_speed: float = 1.0) -> AsyncIterator[FuturesDesk]:
    async with running_gateway(
        seed=21, clock_start=TUESDAY_MORNING, clock_speed=clock_speed
    ) as gateway:
        broker = IbkrBroker("127.0.0.1", gateway.port, 12, connect_timeout_s=5)
        events = Recorder()
        broker.set_event_sink(events)
        await broker.connect()
        try:
            yield FuturesDesk(gateway, broker, events)
        finally:
            await broker.disconnect()


@pytest.fixture
async def desk() -> AsyncIterator[FuturesDesk]:
    async with futures_desk() as opened:
        yield opened


@pytest.fixture
async def fast_desk() -> AsyncIterator[FuturesDesk]:
    """The desk with the venue's clock at `BAR_CLOCK_SPEED`: a 5-second bar every half second."""
    async with futures_desk(BAR_CLOCK_SPEED) as opened:
        yield opened


def front_instrument(front: ContractFacts) -> Instrument:
    assert front.expiry is not None
    return Instrument(
        symbol=front.symbol,
        sec_type="FUT",
        exchange=front.exchange,
        tick_size=front.min_tick,
        multiplier=front.multiplier,
        con_id=front.con_id,
        expiry=front.expiry.strftime("%Y%m%d"),
        trading_class=front.trading_class,
    )


async def test_mes_details_list_every_expiry_with_multiplier_and_tick(desk: FuturesDesk) -> None:
    facts = await desk.broker.contract_details(MES_ROOT)
    assert [f.expiry for f in facts] == [
        date(2026, 12, 18),
        date(2027, 3, 19),
        date(2027, 6, 18),
        date(2027, 9, 17),
    ]
    front = facts[0]
    assert (front.multiplier, front.min_tick, front.trading_class) == (5, Decimal("0.25"), "MES")
    (by_month,) = await desk.broker.contract_details(
        MES_ROOT.model_copy(update={"expiry": "202703"})
    )
    assert by_month.expiry == date(2027, 3, 19)


async def test_one_lot_mes_market_order_fills_and_maps_back(desk: FuturesDesk) -> None:
    (front, *_) = await desk.broker.contract_details(MES_ROOT)
    mes = front_instrument(front)
    desk.gateway.venue.set_price("MES", Decimal("5900.00"), Decimal("5900.25"))
    ref = order_ref_for("mes1")
    await desk.broker.submit(
        OrderRequest(
            order_ref=ref,
            instrument=mes,
            side=Side.BUY,
            quantity=Decimal(1),
            order_type=OrderType.MARKET,
        )
    )
    await eventually(lambda: desk.events.of(OrderFilled), what="MES fill")
    (fill,) = desk.events.of(OrderFilled)
    assert (fill.order_ref, fill.price, fill.quantity) == (ref, Decimal("5900.25"), 1)
    await eventually(lambda: desk.events.of(PositionUpdated), what="position")
    (position,) = await desk.broker.positions()
    held = position.instrument
    assert (held.symbol, held.sec_type, held.expiry, held.multiplier) == (
        "MES",
        "FUT",
        "20261218",
        5,
    )
    assert (held.con_id, held.trading_class) == (front.con_id, "MES")


async def test_a_day_of_one_minute_bars(desk: FuturesDesk) -> None:
    (front, *_) = await desk.broker.contract_details(MES_ROOT)
    bars = await desk.broker.historical_bars(
        front_instrument(front), BarRequest(duration="1 D", bar_size="1 min")
    )
    assert len(bars) == 16 * 60  # Monday 17:00 to Tuesday 09:00 Chicago
    assert bars[0].ts == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert all(b.seconds == 60 and b.symbol == "MES" for b in bars)
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)


async def test_live_five_second_bars_arrive_as_bar_events(fast_desk: FuturesDesk) -> None:
    desk = fast_desk
    (front, *_) = await desk.broker.contract_details(MES_ROOT)
    await desk.broker.subscribe_bars(front_instrument(front))
    await eventually(lambda: desk.events.of(BarUpdated), timeout=10, what="a live bar")
    (event, *_) = desk.events.of(BarUpdated)
    assert event.bar.seconds == 5 and event.bar.symbol == "MES"
    assert not event.late and not event.gap_before


async def test_what_if_previews_margin_and_places_nothing(desk: FuturesDesk) -> None:
    (front, *_) = await desk.broker.contract_details(MES_ROOT)
    preview = await desk.broker.what_if(
        OrderRequest(
            order_ref=order_ref_for("wi1"),
            instrument=front_instrument(front),
            side=Side.BUY,
            quantity=Decimal(1),
            order_type=OrderType.MARKET,
        )
    )
    assert (preview.init_margin_change, preview.maint_margin_change) == (2475, 2250)
    assert preview.commission == Decimal("0.62")
    assert desk.gateway.venue.orders() == []


async def test_modify_is_confirmed_by_the_broker(rig: Rig) -> None:
    ref = order_ref_for("m1")
    await rig.broker.submit(limit(ref, price="150.00"))
    await eventually(lambda: rig.accepted(ref), what="ack")
    await rig.broker.modify(ref, limit_price=Decimal("151.00"), quantity=Decimal(60))
    (working,) = await rig.broker.open_orders()
    assert (working.limit_price, working.quantity) == (Decimal("151.00"), 60)
    (venue_order,) = [o for o in rig.gateway.venue.orders() if o.is_open]
    assert venue_order.limit_price == Decimal("151.00")


async def test_a_failed_modify_leaves_the_order_as_it_was(rig: Rig) -> None:
    ref = order_ref_for("m2")
    await rig.broker.submit(limit(ref, price="150.00"))
    await eventually(lambda: rig.accepted(ref), what="ack")
    rig.gateway.faults.fail_next_modify()
    await rig.broker.modify(ref, limit_price=Decimal("152.00"))
    (rejected,) = rig.events.of(ModifyRejected)
    assert rejected.order_ref == ref
    await rig.broker.quiesce()
    (working,) = await rig.broker.open_orders()
    assert working.limit_price == Decimal("150.00")
    assert not rig.cancelled(ref)


async def test_modify_of_an_unknown_or_finished_order_is_refused(rig: Rig) -> None:
    with pytest.raises(ValueError, match="unknown"):
        await rig.broker.modify(order_ref_for("nope"), limit_price=Decimal("1"))
    ref = order_ref_for("m3")
    await rig.broker.submit(limit(ref))
    await eventually(lambda: rig.accepted(ref), what="ack")
    with pytest.raises(ValueError, match="positive"):
        await rig.broker.modify(ref, limit_price=Decimal("NaN"))
    await rig.broker.cancel(ref)
    await eventually(lambda: rig.cancelled(ref), what="cancel")
    with pytest.raises(ValueError, match="not working"):
        await rig.broker.modify(ref, limit_price=Decimal("149"))


@pytest.mark.slow
async def test_a_reconnect_resubscribes_bars_and_fills_the_gap_exactly_once() -> None:
    async with running_gateway(
        seed=21, clock_start=TUESDAY_MORNING, clock_speed=BAR_CLOCK_SPEED
    ) as gateway:
        clock = ManualClock()
        sleep = FastSleep(clock)
        broker = IbkrBroker("127.0.0.1", gateway.port, 12, connect_timeout_s=5, sleep=sleep)
        events = Recorder()
        broker.set_event_sink(events)
        await broker.connect()
        try:
            (front, *_) = await broker.contract_details(MES_ROOT)
            await broker.subscribe_bars(front_instrument(front))
            await eventually(lambda: events.of(BarUpdated), timeout=10, what="a live bar")
            before = events.of(BarUpdated)[-1].bar.ts
            sleep.gate.clear()  # hold the reconnect while bars go by
            gateway.faults.drop_connections()
            await eventually(lambda: events.of(BrokerDisconnected), what="disconnect")
            await eventually(
                lambda: (gateway.venue.scheduler.now() - before).total_seconds() >= 16,
                timeout=30,
                what="at least two bars missed",
            )
            sleep.gate.set()
            await eventually(lambda: len(events.of(BrokerConnected)) == 2, what="reconnect")
            await eventually(
                lambda: events.of(BarUpdated)[-1].bar.ts > before + timedelta(seconds=15),
                timeout=15,
                what="live bars again",
            )
        finally:
            await broker.disconnect()
    stamps = [e.bar.ts for e in events.of(BarUpdated)]
    assert stamps == sorted(set(stamps))  # each bar once, in order
    steps = {(b - a).total_seconds() for a, b in pairwise(stamps)}
    assert steps == {5.0}  # the gap was filled: no bar missing
    assert not any(e.gap_before or e.late for e in events.of(BarUpdated))


@pytest.mark.slow
async def test_1101_resubscribes_live_bars(fast_desk: FuturesDesk) -> None:
    desk = fast_desk
    (front, *_) = await desk.broker.contract_details(MES_ROOT)
    await desk.broker.subscribe_bars(front_instrument(front))
    await eventually(lambda: desk.events.of(BarUpdated), timeout=10, what="a live bar")
    desk.gateway.faults.connectivity_restored(data_lost=True)
    await eventually(lambda: desk.events.of(ConnectivityChanged), what="1101 handled")
    after = desk.events.of(BarUpdated)[-1].bar.ts
    await eventually(
        lambda: desk.events.of(BarUpdated)[-1].bar.ts > after, timeout=12, what="bars again"
    )
    stamps = [e.bar.ts for e in desk.events.of(BarUpdated)]
    assert stamps == sorted(set(stamps))  # resubscribed once: no bar twice
