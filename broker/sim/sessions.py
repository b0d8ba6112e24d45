"""The venue's trading sessions (Globex futures, NYSE stocks) on the engine's own calendar."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from broker.sim.symbols import SymbolSpec
from engine.trading_hours import (
    CME_CLOSED_DAYS,
    CME_EARLY_CLOSES,
    NYSE_EARLY_CLOSES,
    NYSE_HOLIDAYS,
)

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")

GLOBEX_OPEN = time(17, 0)
"""A Globex trading day opens at 17:00 Chicago the evening before (after the daily break)..."""
GLOBEX_CLOSE = time(16, 0)
"""...and closes at 16:00 Chicago, earlier on the engine calendar's early-close days."""
RTH_FUTURES = (time(8, 30), time(15, 0))
"""The regular (pit) hours of the equity-index futures, Chicago time."""
RTH_STOCKS = (time(9, 30), time(16, 0))


def is_trading_day(spec: SymbolSpec, day: date) -> bool:
    """Weekdays that are not holidays on the engine's calendar (one calendar for all)."""
    if day.weekday() >= 5:
        return False
    return day not in (CME_CLOSED_DAYS if spec.is_future else NYSE_HOLIDAYS)


def session_bounds(spec: SymbolSpec, day: date) -> tuple[datetime, datetime] | None:
    """The session (open, close) of one trading day, timezone-aware; None if no session."""
    if not is_trading_day(spec, day):
        return None
    if not spec.is_future:
        close = NYSE_EARLY_CLOSES.get(day, RTH_STOCKS[1])
        return (
            datetime.combine(day, RTH_STOCKS[0], NEW_YORK),
            datetime.combine(day, close, NEW_YORK),
        )
    early = CME_EARLY_CLOSES.get(day)
    end = (
        datetime.combine(day, early, NEW_YORK)
        if early is not None
        else datetime.combine(day, GLOBEX_CLOSE, CHICAGO)
    )
    return datetime.combine(day - timedelta(days=1), GLOBEX_OPEN, CHICAGO), end


def regular_hours(spec: SymbolSpec, day: date) -> tuple[datetime, datetime]:
    """The regular trading hours inside a day's session (all of it for stocks)."""
    zone, (start, end) = (CHICAGO, RTH_FUTURES) if spec.is_future else (NEW_YORK, RTH_STOCKS)
    return datetime.combine(day, start, zone), datetime.combine(day, end, zone)


def trading_day_of(spec: SymbolSpec, ts: datetime) -> date:
    """The trading day a moment belongs to (Globex evenings belong to the next day)."""
    if not spec.is_future:
        return ts.astimezone(NEW_YORK).date()
    local = ts.astimezone(CHICAGO)
    return local.date() + timedelta(days=1) if local.time() >= GLOBEX_OPEN else local.date()


def next_trading_day(spec: SymbolSpec, day: date) -> date:
    day += timedelta(days=1)
    while not is_trading_day(spec, day):
        day += timedelta(days=1)
    return day


def previous_trading_days(spec: SymbolSpec, last: date, count: int) -> list[date]:
    """`count` trading days ending with `last` (or the one before it), oldest first."""
    days: list[date] = []
    day = last
    while len(days) < count:
        if is_trading_day(spec, day):
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]
