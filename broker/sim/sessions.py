"""The venue's trading sessions: CME Globex days for futures, NYSE regular hours for stocks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from broker.sim.symbols import SymbolSpec

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")

GLOBEX_OPEN = time(17, 0)
"""A Globex trading day opens at 17:00 Chicago the evening before..."""
GLOBEX_CLOSE = time(16, 0)
"""...and closes at 16:00 Chicago (then the daily maintenance break until 17:00)."""
GLOBEX_EARLY_CLOSE = time(12, 0)
RTH_FUTURES = (time(8, 30), time(15, 0))
"""The regular (pit) hours of the equity-index futures, Chicago time."""
RTH_STOCKS = (time(9, 30), time(16, 0))

HOLIDAYS: frozenset[date] = frozenset(
    {
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 4, 3),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),
        date(2026, 9, 7),
        date(2026, 11, 26),
        date(2026, 12, 25),
        date(2027, 1, 1),
    }
)
"""NYSE closed; CME equity index futures close early (12:00 Chicago) on these days."""


def is_trading_day(spec: SymbolSpec, day: date) -> bool:
    if day.weekday() >= 5:
        return False
    return spec.is_future or day not in HOLIDAYS


def session_bounds(spec: SymbolSpec, day: date) -> tuple[datetime, datetime] | None:
    """The session (open, close) of one trading day, timezone-aware; None if no session."""
    if not is_trading_day(spec, day):
        return None
    if not spec.is_future:
        return (
            datetime.combine(day, RTH_STOCKS[0], NEW_YORK),
            datetime.combine(day, RTH_STOCKS[1], NEW_YORK),
        )
    close = GLOBEX_EARLY_CLOSE if day in HOLIDAYS else GLOBEX_CLOSE
    return (
        datetime.combine(day - timedelta(days=1), GLOBEX_OPEN, CHICAGO),
        datetime.combine(day, close, CHICAGO),
    )


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
