"""Encoders for contract details, market data ticks, historical and real-time bars.

Layouts follow TWS per server version (the gates are IB's `MIN_SERVER_VER_*` numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from broker.gateway.codec import fmt, fmt_price
from broker.gateway.ids import Out
from broker.gateway.messages import Fields, WireContract
from broker.gateway.versions import Ver
from contracts.market import Bar


@dataclass(frozen=True)
class WireDetails:
    """What contractData adds to a contract: hours, market name, size rules."""

    contract: WireContract
    time_zone: str
    trading_hours: str
    liquid_hours: str
    contract_month: str = ""
    last_trade_time: str = ""
    under_symbol: str = ""
    under_sec_type: str = ""
    price_magnifier: int = 1
    size_increment: Decimal = Decimal(1)


def _last_trade(d: WireDetails) -> str:
    """lastTradeDateOrContractMonth as TWS writes it in contractData (`date time zone`)."""
    c = d.contract
    if not c.expiry:
        return ""
    return f"{c.expiry} {d.last_trade_time} {d.time_zone}" if d.last_trade_time else c.expiry


def contract_details(req_id: int, d: WireDetails, version: int) -> Fields:
    """contractData (id 10): version field 8 below v164, size rules from v163/v164."""
    c = d.contract
    future = c.is_future
    f: Fields = [Out.CONTRACT_DATA]
    if version < Ver.SIZE_RULES:
        f.append(8)
    f += [req_id, c.symbol, c.sec_type, _last_trade(d), "0.0", "", c.exchange, c.currency]
    f += [c.local, c.klass if future else "NMS", c.klass, c.con_id, fmt_price(c.min_tick)]
    if Ver.MD_SIZE_MULTIPLIER <= version < Ver.SIZE_RULES:
        f.append(1 if future else 100)  # mdSizeMultiplier
    valid = f"{c.exchange},QBALGO" if future else f"SMART,{c.primary_exchange or 'ISLAND'}"
    f += [c.wire_multiplier, "ACTVTIM,LMT,MKT,STP,STPLMT,TRAIL", valid, d.price_magnifier, 0]
    f += [c.long_name or c.symbol, c.primary_exchange, d.contract_month, "", "", ""]
    f += [d.time_zone, d.trading_hours, d.liquid_hours, "", "", 0]  # evRule, evMult, secIds
    if version >= Ver.AGG_GROUP:
        f.append(1)
    if version >= Ver.UNDERLYING_INFO:
        f += [d.under_symbol, d.under_sec_type]
    if version >= Ver.MARKET_RULES:
        f.append("67" if future else "26")
    if version >= Ver.REAL_EXPIRATION_DATE:
        f.append(c.expiry)
    if version >= Ver.STOCK_TYPE:
        f.append("" if future else "COMMON")
    increment = fmt(d.size_increment) if future else "0.0001"
    if version == Ver.FRACTIONAL_SIZE_SUPPORT:
        f.append(increment if future else "100")
    if version >= Ver.SIZE_RULES:
        f += [increment, increment, increment if future else "100"]
    return f


def contract_details_end(req_id: int) -> Fields:
    return [Out.CONTRACT_DATA_END, 1, req_id]


# --- market data ticks ------------------------------------------------------------------------


def tick_price(req_id: int, tick_type: int, price: Decimal, size: int, version: int) -> Fields:
    """tickPrice (id 1), version 6: the size rides along for bid/ask/last."""
    attributes = 0 if version >= Ver.PAST_LIMIT else 1  # canAutoExecute before v109
    return [Out.TICK_PRICE, 6, req_id, tick_type, fmt_price(price), size, attributes]


def tick_size(req_id: int, tick_type: int, size: int) -> Fields:
    return [Out.TICK_SIZE, 6, req_id, tick_type, size]


def market_data_type(req_id: int, data_type: int) -> Fields:
    return [Out.MARKET_DATA_TYPE, 1, req_id, data_type]


def tick_snapshot_end(req_id: int) -> Fields:
    return [Out.TICK_SNAPSHOT_END, 1, req_id]


# --- bars -------------------------------------------------------------------------------------


def bar_time(ts: datetime, format_date: int, zone: str) -> str:
    """An intraday bar's date: epoch seconds for formatDate 2, else `YYYYMMDD HH:MM:SS Zone`
    in the exchange's zone."""
    local = ts.astimezone(ZoneInfo(zone))
    if format_date == 2:
        return str(int(ts.timestamp()))
    return f"{local:%Y%m%d %H:%M:%S} {zone}"


@dataclass(frozen=True)
class WireBar:
    """One bar with its wire date already chosen."""

    date: str
    bar: Bar


def _num(value: Decimal) -> str:
    return fmt_price(value)


def historical_data(req_id: int, start: str, end: str, bars: list[WireBar], version: int) -> Fields:
    """historicalData (id 17): every bar in one message; version field and hasGaps < v124."""
    old = version < Ver.SYNT_REALTIME_BARS
    f: Fields = [Out.HISTORICAL_DATA]
    if old:
        f.append(3)
    f += [req_id, start, end, len(bars)]
    for wire in bars:
        b = wire.bar
        f += [wire.date, _num(b.open), _num(b.high), _num(b.low), _num(b.close)]
        f += [fmt(b.volume), _num(b.wap if b.wap is not None else b.close)]
        if old:
            f.append("false")  # hasGaps
        f.append(b.count)
    return f


def historical_data_update(req_id: int, wire: WireBar) -> Fields:
    """historicalDataUpdate (id 90, keepUpToDate): no version; close before high/low."""
    b = wire.bar
    return [
        Out.HISTORICAL_DATA_UPDATE, req_id, b.count, wire.date, _num(b.open), _num(b.close),
        _num(b.high), _num(b.low), _num(b.wap if b.wap is not None else b.close), fmt(b.volume),
    ]  # fmt: skip


def realtime_bar(req_id: int, b: Bar) -> Fields:
    """realtimeBar (id 50, version 3): epoch time, OHLC, volume, wap, count."""
    wap = b.wap if b.wap is not None else b.close
    return [
        Out.REAL_TIME_BARS, 3, req_id, int(b.ts.timestamp()), _num(b.open), _num(b.high),
        _num(b.low), _num(b.close), fmt(b.volume), _num(wap), b.count,
    ]  # fmt: skip


def head_timestamp(req_id: int, stamp: str) -> Fields:
    """headTimestamp (id 88): no version field."""
    return [Out.HEAD_TIMESTAMP, req_id, stamp]
