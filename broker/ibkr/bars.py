"""Bars side of the adapter: historical bars, live 5-second bars, the gap fill after a break."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, date, datetime, time

from ib_async import BarData, Contract, RealTimeBar, RealTimeBarList

from broker.ibkr import mapping
from broker.ibkr.link import IbLink
from broker.ibkr.market_data import InstrumentKey, MarketData, instrument_key
from contracts.broker import BarUpdated
from contracts.intent import Instrument
from contracts.market import Bar, BarRequest
from engine.ports import BrokerUnavailable

log = logging.getLogger(__name__)

LIVE_BAR_SECONDS = 5
"""IB's real-time bars come in one size only."""
MAX_BACKFILL_SECONDS = 9_999
"""The longest gap filled in one request (a duration in seconds has at most four digits)."""


def to_bar(symbol: str, seconds: int, ts: datetime | date, values: BarData | RealTimeBar) -> Bar:
    """A contracts Bar from an ib_async historical or real-time bar (ts made UTC-aware)."""
    if not isinstance(ts, datetime):
        ts = datetime.combine(ts, time(), UTC)
    elif ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    opening = values.open_ if isinstance(values, RealTimeBar) else values.open
    wap = values.wap if isinstance(values, RealTimeBar) else values.average
    count = values.count if isinstance(values, RealTimeBar) else values.barCount
    return Bar(
        symbol=symbol,
        ts=ts.astimezone(UTC),
        seconds=seconds,
        open=mapping.to_price(opening),
        high=mapping.to_price(values.high),
        low=mapping.to_price(values.low),
        close=mapping.to_price(values.close),
        volume=mapping.to_decimal(values.volume) or 0,
        wap=mapping.to_price(wap),
        count=max(count, 0),
    )


class BarFeed:
    """Historical bars on request; live bars kept across reconnects, each delivered once."""

    def __init__(self, link: IbLink, market: MarketData) -> None:
        self._link = link
        self._market = market
        self._subscriptions: dict[InstrumentKey, Instrument] = {}
        self._streams: dict[InstrumentKey, RealTimeBarList] = {}
        self._last: dict[InstrumentKey, datetime] = {}
        """Open time of the newest bar delivered per subscription."""
        self._backfill_due: set[InstrumentKey] = set()
        """Resubscribed after a break: the first live bar tells how wide the gap is."""
        self._held: dict[InstrumentKey, list[Bar]] = {}
        """Live bars waiting for their gap to be filled (delivered right after it)."""
        self._tasks: set[asyncio.Task[None]] = set()

    async def historical_bars(self, instrument: Instrument, request: BarRequest) -> list[Bar]:
        """reqHistoricalData for the request; bars in time order (UTC)."""
        contract = await self._contract(instrument)
        seconds = mapping.bar_seconds(request.bar_size)
        end = request.end or ""
        ib = self._link.ib
        rows = await self._link.request(
            lambda: ib.reqHistoricalDataAsync(
                contract,
                end,
                request.duration,
                request.bar_size,
                request.what_to_show,
                request.use_rth,
                formatDate=2,
            )
        )
        return self._bars(instrument.symbol, seconds, rows)

    async def subscribe_bars(self, instrument: Instrument) -> None:
        """Stream live 5-second bars as BarUpdated (kept across reconnects)."""
        key = instrument_key(instrument)
        if key in self._subscriptions:
            return
        self._subscriptions[key] = instrument
        if self._link.ib.isConnected():
            await self._start(key, instrument)

    def on_disconnected(self) -> None:
        self._streams.clear()

    async def cancel_live(self) -> None:
        """Cancel the streams TWS stopped feeding (1101: data lost)."""
        for stream in list(self._streams.values()):
            await self._link.pacer.acquire(1)
            self._link.ib.cancelRealTimeBars(stream)
        self._streams.clear()

    async def resubscribe(self) -> None:
        """After a reconnect or 1101: stream again; the gap is filled once, from history."""
        self._streams.clear()
        for key, instrument in list(self._subscriptions.items()):
            if key in self._last:
                self._backfill_due.add(key)
            try:
                await self._start(key, instrument)
            except BrokerUnavailable as exc:  # never blocks the session from opening
                self._link.notice(0, f"live bars for {instrument.symbol} not resumed: {exc}")

    async def _start(self, key: InstrumentKey, instrument: Instrument) -> None:
        contract = await self._contract(instrument)
        await self._link.pacer.acquire(1)
        if not self._link.ib.isConnected():
            return
        stream = self._link.ib.reqRealTimeBars(contract, LIVE_BAR_SECONDS, "TRADES", False)
        symbol = instrument.symbol

        def on_update(bars: RealTimeBarList, has_new_bar: bool) -> None:
            if has_new_bar and bars:
                latest = bars[-1]
                try:
                    bar = to_bar(symbol, LIVE_BAR_SECONDS, latest.time, latest)
                except ValueError as exc:
                    log.warning("live bar for %s not usable: %s", symbol, exc)
                    return
                self._on_live(key, instrument, bar)

        stream.updateEvent += on_update
        self._streams[key] = stream

    def _on_live(self, key: InstrumentKey, instrument: Instrument, bar: Bar) -> None:
        held = self._held.get(key)
        if held is not None:
            held.append(bar)
            return
        last = self._last.get(key)
        if key in self._backfill_due:
            self._backfill_due.discard(key)
            if last is not None and (bar.ts - last).total_seconds() > bar.seconds:
                self._held[key] = [bar]
                task = asyncio.ensure_future(self._backfill(key, instrument, last, bar.ts))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return
        self._deliver(key, bar)

    async def _backfill(
        self, key: InstrumentKey, instrument: Instrument, last: datetime, until: datetime
    ) -> None:
        """The bars between the last one delivered and the first one after the break."""
        seconds = min(MAX_BACKFILL_SECONDS, math.ceil((until - last).total_seconds()))
        request = BarRequest(duration=f"{seconds} S", bar_size="5 secs", end=until)
        try:
            for bar in await self.historical_bars(instrument, request):
                if last < bar.ts < until:
                    self._deliver(key, bar)
        except BrokerUnavailable as exc:
            log.warning("bar gap for %s not filled: %s", instrument.symbol, exc)
        finally:
            for bar in self._held.pop(key, []):
                self._deliver(key, bar)

    def _deliver(self, key: InstrumentKey, bar: Bar) -> None:
        """One BarUpdated per bar: late ones flagged, a skipped interval flagged as a gap."""
        last = self._last.get(key)
        late = last is not None and bar.ts <= last
        if late and last is not None and bar.ts == last:
            return  # the same bar again (backfill overlapping the stream): delivered already
        gap = last is not None and (bar.ts - last).total_seconds() > bar.seconds
        if not late:
            self._last[key] = bar.ts
        self._link.emit(BarUpdated(ts=self._link.clock.now(), bar=bar, late=late, gap_before=gap))

    async def _contract(self, instrument: Instrument) -> Contract:
        contract = await self._market.qualified(instrument)
        if contract is None:
            raise BrokerUnavailable(f"{instrument.symbol}: no single contract to ask bars for")
        return contract

    @staticmethod
    def _bars(symbol: str, seconds: int, rows: list[BarData]) -> list[Bar]:
        bars = []
        for row in rows:
            try:
                bars.append(to_bar(symbol, seconds, row.date, row))
            except ValueError as exc:
                log.warning("historical bar for %s not usable: %s", symbol, exc)
        return bars
