"""One session's contract lookups and market data: details, ticks, historical and live bars."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from broker.gateway import market_messages as mm
from broker.gateway.ids import Code, In
from broker.gateway.requests import ContractRef, parse_req_with_contract
from broker.gateway.versions import Ver
from broker.gateway.wire import wire_contract
from broker.sim.bars import SESSION_BAR, bar_seconds_of, bars_for_request, floor_to_bar
from broker.sim.quotes import SimQuote
from broker.sim.sessions import regular_hours, session_bounds, trading_day_of
from broker.sim.symbols import Listing, SymbolSpec
from contracts.market import Bar

if TYPE_CHECKING:
    from broker.gateway.session import ClientSession

NO_SECURITY = "No security definition has been found for the request"
HOURS_DAYS = 7
HEAD_TIMESTAMP_DAYS = 730


def zone_id(spec: SymbolSpec) -> str:
    """The exchange time zone as TWS names it."""
    return "US/Central" if spec.is_future else "US/Eastern"


def resolve(session: ClientSession, c: ContractRef) -> list[Listing]:
    """Every listed contract a client's contract description matches (IB's matching)."""
    venue = session.venue
    if c.con_id:
        found = venue.find_contracts(con_id=c.con_id)
        return [x for x in found if not c.symbol or x.spec.symbol == c.symbol]
    symbol = c.symbol
    expiry = c.expiry
    if not symbol and c.local_symbol:
        for spec in venue.symbols():
            if c.local_symbol.startswith(spec.symbol):
                candidates = venue.find_contracts(symbol=spec.symbol, sec_type=spec.sec_type)
                if any(x.local_symbol == c.local_symbol for x in candidates):
                    symbol = spec.symbol
    found = venue.find_contracts(
        symbol=symbol,
        sec_type=c.sec_type or "STK",
        exchange=c.exchange,
        expiry=expiry,
        currency=c.currency,
    )
    if c.local_symbol:
        found = [x for x in found if x.local_symbol == c.local_symbol]
    if c.multiplier:
        found = [x for x in found if _same_number(c.multiplier, x.spec.multiplier)]
    if c.trading_class and found and found[0].spec.is_future:
        found = [x for x in found if x.trading_class == c.trading_class]
    return found


def _same_number(text: str, value: Decimal) -> bool:
    try:
        return Decimal(text) == value
    except ArithmeticError:
        return False


def hours(spec: SymbolSpec, today: date) -> tuple[str, str]:
    """TWS's tradingHours and liquidHours strings for the coming week, exchange time."""
    zone = ZoneInfo("America/Chicago" if spec.is_future else "America/New_York")
    trading: list[str] = []
    liquid: list[str] = []
    for offset in range(HOURS_DAYS):
        day = today + timedelta(days=offset)
        bounds = session_bounds(spec, day)
        if bounds is None:
            trading.append(f"{day:%Y%m%d}:CLOSED")
            liquid.append(f"{day:%Y%m%d}:CLOSED")
            continue
        start, end = (t.astimezone(zone) for t in bounds)
        trading.append(f"{start:%Y%m%d:%H%M}-{end:%Y%m%d:%H%M}")
        rth_start, rth_end = (t.astimezone(zone) for t in regular_hours(spec, day))
        rth_end = min(rth_end, end)
        liquid.append(f"{rth_start:%Y%m%d:%H%M}-{rth_end:%Y%m%d:%H%M}")
    return ";".join(trading), ";".join(liquid)


def details_of(listing: Listing, exchange: str, today: date) -> mm.WireDetails:
    spec = listing.spec
    trading, liquid = hours(spec, today)
    return mm.WireDetails(
        contract=wire_contract(listing, exchange),
        time_zone=zone_id(spec),
        trading_hours=trading,
        liquid_hours=liquid,
        contract_month=listing.contract_month,
        last_trade_time="08:30" if spec.is_future else "",
        under_symbol=spec.symbol if spec.is_future else "",
        under_sec_type="IND" if spec.is_future else "",
        price_magnifier=spec.price_magnifier,
        size_increment=spec.size_increment,
    )


@dataclass
class _Updating:
    """A keepUpToDate historical request: the bar being built from live 5-second bars."""

    bar_seconds: int
    format_date: int
    zone: str
    current: Bar | None = None
    stop: Callable[[], None] = field(default=lambda: None)


class MarketDesk:
    """Contract details, ticks, historical data and real-time bars for one client session."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.market_data: dict[int, str] = {}
        self._live_bars: dict[int, Callable[[], None]] = {}
        self._updating: dict[int, _Updating] = {}

    def handlers(self) -> dict[int, Callable[[list[str]], None]]:
        """The requests this desk answers, by message id."""
        return {
            In.REQ_CONTRACT_DETAILS: self._req_contract_details,
            In.REQ_MKT_DATA: self._req_mkt_data,
            In.CANCEL_MKT_DATA: lambda f: self.cancel_mkt_data(int(f[2])),
            In.REQ_HISTORICAL_DATA: self._req_historical_data,
            In.CANCEL_HISTORICAL_DATA: lambda f: self.cancel_historical_data(int(f[2])),
            In.REQ_REAL_TIME_BARS: self._req_real_time_bars,
            In.CANCEL_REAL_TIME_BARS: lambda f: self.cancel_real_time_bars(int(f[2])),
            In.REQ_HEAD_TIMESTAMP: self._req_head_timestamp,
            In.CANCEL_HEAD_TIMESTAMP: lambda f: None,
        }

    @property
    def _version(self) -> int:
        return self.session.version

    def _one(self, req_id: int, c: ContractRef) -> Listing | None:
        """The single contract a request names, or an error 200 and None."""
        found = resolve(self.session, c)
        if len(found) == 1:
            return found[0]
        text = NO_SECURITY
        if len(found) > 1:
            text = f"The contract description specified for {c.symbol} is ambiguous."
        self.session.send_error(req_id, Code.NO_SECURITY, text)
        return None

    # --- contract details -----------------------------------------------------------------

    def _req_contract_details(self, fields: list[str]) -> None:
        req_id, c, _ = parse_req_with_contract(fields)
        found = resolve(self.session, c)
        if not found:
            self.session.send_error(req_id, Code.NO_SECURITY, NO_SECURITY)
            return
        today = self.session.venue.scheduler.now().date()
        for listing in found:
            details = details_of(listing, c.exchange, today)
            self.session.send(mm.contract_details(req_id, details, self._version))
        self.session.send(mm.contract_details_end(req_id))

    # --- ticks ------------------------------------------------------------------------------

    def _req_mkt_data(self, fields: list[str]) -> None:
        req_id, c, cur = parse_req_with_contract(fields)
        listing = self._one(req_id, c)
        if listing is None:
            return
        if cur.read_bool():  # delta-neutral contract
            cur.skip(3)
        cur.skip(1)  # generic tick list
        snapshot = cur.read_bool()
        symbol = listing.spec.symbol
        self.session.send(mm.market_data_type(req_id, 1))
        self._send_ticks(req_id, self.session.venue.quote(symbol))
        if snapshot:
            self.session.send(mm.tick_snapshot_end(req_id))
        else:
            self.market_data[req_id] = symbol

    def cancel_mkt_data(self, req_id: int) -> None:
        self.market_data.pop(req_id, None)

    def on_quote(self, quote: SimQuote) -> None:
        for req_id, symbol in list(self.market_data.items()):
            if symbol == quote.symbol:
                self._send_ticks(req_id, quote)

    def _send_ticks(self, req_id: int, q: SimQuote) -> None:
        send, version = self.session.send, self._version
        send(mm.tick_price(req_id, 1, q.bid, q.bid_size, version))
        send(mm.tick_price(req_id, 2, q.ask, q.ask_size, version))
        send(mm.tick_price(req_id, 4, q.last, q.last_size, version))
        send(mm.tick_size(req_id, 8, q.volume // 100))

    # --- historical bars --------------------------------------------------------------------

    def _req_historical_data(self, fields: list[str]) -> None:
        # IB's older clients put a version field before the reqId (servers below v124)
        old = self._version < Ver.SYNT_REALTIME_BARS
        req_id, c, cur = parse_req_with_contract(fields, versioned=old)
        listing = self._one(req_id, c)
        if listing is None:
            return
        cur.skip(1)  # includeExpired
        end_text, bar_size, duration = cur.next(), cur.next(), cur.next()
        use_rth, what_to_show, format_date = cur.read_bool(), cur.next(), cur.read_int(1)
        keep_up = cur.read_bool() if cur.pos < len(cur.fields) else False
        spec = listing.spec
        now = self.session.venue.scheduler.now()
        try:
            end = parse_end(end_text, now)
            bars = bars_for_request(
                spec.symbol,
                duration=duration,
                bar_size=bar_size,
                use_rth=use_rth,
                end=end,
                seed=self.session.venue.seed,
            )
        except ValueError as exc:
            text = f"Historical Market Data Service error message:{exc}"
            self.session.send_error(req_id, Code.HISTORICAL_DATA_ERROR, text)
            return
        del what_to_show  # TRADES, MIDPOINT, BID and ASK all read the one generated path
        zone = zone_id(spec)
        daily = bar_seconds_of(bar_size) >= SESSION_BAR
        wire = [
            mm.WireBar(
                f"{trading_day_of(spec, b.ts):%Y%m%d}"
                if daily
                else mm.bar_time(b.ts, format_date, zone),
                b,
            )
            for b in bars
        ]
        start = bars[0].ts if bars else end
        self.session.send(
            mm.historical_data(
                req_id,
                mm.bar_time(start, 1, zone),
                mm.bar_time(end, 1, zone),
                wire,
                self._version,
            )
        )
        if keep_up and not daily:
            self._keep_up_to_date(req_id, spec.symbol, bar_seconds_of(bar_size), format_date, zone)

    @staticmethod
    def _bar_date(spec: SymbolSpec, bar: Bar, format_date: int, daily: bool) -> str:
        """A daily bar is dated by its trading day; intraday bars by their open time."""
        if daily:
            return f"{trading_day_of(spec, bar.ts):%Y%m%d}"
        return mm.bar_time(bar.ts, format_date, zone_id(spec))

    def _keep_up_to_date(
        self, req_id: int, symbol: str, bar_seconds: int, format_date: int, zone: str
    ) -> None:
        updating = _Updating(bar_seconds, format_date, zone)
        self._updating[req_id] = updating

        def on_bar(bar: Bar) -> None:
            if not self.session.server.data_connected:
                return
            opened = floor_to_bar(bar.ts, bar_seconds)
            current = updating.current
            if current is None or current.ts != opened:
                current = bar.model_copy(update={"ts": opened, "seconds": bar_seconds})
            else:
                current = current.model_copy(
                    update={
                        "high": max(current.high, bar.high),
                        "low": min(current.low, bar.low),
                        "close": bar.close,
                        "volume": current.volume + bar.volume,
                        "count": current.count + bar.count,
                    }
                )
            updating.current = current
            date_text = mm.bar_time(current.ts, updating.format_date, updating.zone)
            self.session.send(mm.historical_data_update(req_id, mm.WireBar(date_text, current)))

        updating.stop = self.session.server.bars.subscribe(symbol, on_bar)

    def cancel_historical_data(self, req_id: int) -> None:
        updating = self._updating.pop(req_id, None)
        if updating is not None:
            updating.stop()

    def _req_head_timestamp(self, fields: list[str]) -> None:
        req_id, c, cur = parse_req_with_contract(fields, versioned=False)
        listing = self._one(req_id, c)
        if listing is None:
            return
        cur.skip(3)  # includeExpired, useRTH, whatToShow
        format_date = cur.read_int(1)
        first = self.session.venue.scheduler.now() - timedelta(days=HEAD_TIMESTAMP_DAYS)
        stamp = mm.bar_time(first.replace(microsecond=0), format_date, zone_id(listing.spec))
        self.session.send(mm.head_timestamp(req_id, stamp))

    # --- real-time bars ---------------------------------------------------------------------

    def _req_real_time_bars(self, fields: list[str]) -> None:
        req_id, c, cur = parse_req_with_contract(fields)
        listing = self._one(req_id, c)
        if listing is None:
            return
        bar_size = cur.read_int()
        if bar_size != 5:
            self.session.send_error(
                req_id,
                Code.VALIDATION,
                "Error validating request.-'bN' : cause - "
                "Invalid bar size: real-time bars are 5 seconds",
            )
            return
        self.cancel_real_time_bars(req_id)
        self._live_bars[req_id] = self.session.server.bars.subscribe(
            listing.spec.symbol, lambda bar: self._send_live_bar(req_id, bar)
        )

    def _send_live_bar(self, req_id: int, bar: Bar) -> None:
        if self.session.server.data_connected:
            self.session.send(mm.realtime_bar(req_id, bar))

    def cancel_real_time_bars(self, req_id: int) -> None:
        stop = self._live_bars.pop(req_id, None)
        if stop is not None:
            stop()

    # --- subscriptions as a whole -----------------------------------------------------------

    def drop_subscriptions(self) -> None:
        """Forget every market-data and bar subscription (TWS after 1101, or session end)."""
        self.market_data.clear()
        for req_id in list(self._live_bars):
            self.cancel_real_time_bars(req_id)
        for req_id in list(self._updating):
            self.cancel_historical_data(req_id)


def parse_end(text: str, now: datetime) -> datetime:
    """reqHistoricalData's endDateTime: empty (now), `YYYYMMDD HH:MM:SS [zone]` or
    `YYYYMMDD-HH:MM:SS` (UTC); a time without a zone is read as UTC."""
    text = text.strip()
    if not text:
        return now
    if "-" in text[:9]:
        return datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    parts = text.split(" ")
    zone = parts[2] if len(parts) > 2 and parts[2] else "UTC"
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        raise ValueError(f"unknown time zone {zone!r} in end date") from None
    return datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S").replace(tzinfo=tz)
