"""Trading calendars: when CME Globex equity-index futures and NYSE stocks trade, and IB's reset.

Times are US/Eastern, the zone both venues publish their hours in. Holidays and early closes are
the ones published for 2026 and 2027; past the table's last year every weekday counts as a normal
day, and `calendar_known(day)` says so, so that a caller can warn instead of trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
KNOWN_YEARS = (2026, 2027)


class SessionState(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    MAINTENANCE = "MAINTENANCE"
    """CME's daily break (17:00-18:00 ET) or IB's nightly reset: nothing can be sent."""


class Venue(StrEnum):
    CME_EQUITY = "CME_EQUITY"
    """Globex equity index futures (ES, MES, NQ, MNQ, ...)."""
    NYSE = "NYSE"
    """US stocks, regular trading hours."""


@dataclass(frozen=True)
class Session:
    """Where a venue stands at one moment, and why."""

    venue: Venue
    state: SessionState
    reason: str
    next_change: datetime | None
    """When the state changes next (UTC), if known within a week."""

    @property
    def open(self) -> bool:
        return self.state is SessionState.OPEN


NYSE_HOLIDAYS = frozenset(
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
        date(2027, 1, 18),
        date(2027, 2, 15),
        date(2027, 3, 26),
        date(2027, 5, 31),
        date(2027, 6, 18),
        date(2027, 7, 5),
        date(2027, 9, 6),
        date(2027, 11, 25),
        date(2027, 12, 24),
    }
)
NYSE_EARLY_CLOSES = {
    date(2026, 11, 27): time(13, 0),
    date(2026, 12, 24): time(13, 0),
    date(2027, 11, 26): time(13, 0),
}
CME_CLOSED_DAYS = frozenset(
    {date(2026, 1, 1), date(2026, 4, 3), date(2026, 12, 25), date(2027, 1, 1), date(2027, 3, 26)}
)
"""Days Globex equity futures do not trade at all (the session that would end that day)."""
CME_EARLY_CLOSES = {
    date(2026, 1, 19): time(13, 0),
    date(2026, 2, 16): time(13, 0),
    date(2026, 5, 25): time(13, 0),
    date(2026, 6, 19): time(13, 0),
    date(2026, 7, 3): time(13, 0),
    date(2026, 9, 7): time(13, 0),
    date(2026, 11, 26): time(13, 0),
    date(2026, 11, 27): time(13, 15),
    date(2026, 12, 24): time(13, 15),
    date(2027, 1, 18): time(13, 0),
    date(2027, 2, 15): time(13, 0),
    date(2027, 5, 31): time(13, 0),
    date(2027, 6, 18): time(13, 0),
    date(2027, 7, 5): time(13, 0),
    date(2027, 9, 6): time(13, 0),
    date(2027, 11, 25): time(13, 0),
    date(2027, 11, 26): time(13, 15),
    date(2027, 12, 24): time(13, 15),
}
"""Globex equity futures halt early on these days (US holidays and their eves), ET."""

NYSE_OPEN, NYSE_CLOSE = time(9, 30), time(16, 0)
CME_CLOSE, CME_REOPEN = time(17, 0), time(18, 0)


def calendar_known(day: date) -> bool:
    """Whether holidays and early closes for `day`'s year are in the table."""
    return day.year in KNOWN_YEARS


def _at(day: date, t: time) -> datetime:
    return datetime.combine(day, t, tzinfo=EASTERN)


def nyse_session(now: datetime) -> Session:
    """NYSE regular trading hours at `now` (aware)."""
    et = now.astimezone(EASTERN)
    day = et.date()
    trading_day = day.weekday() < 5 and day not in NYSE_HOLIDAYS
    close = NYSE_EARLY_CLOSES.get(day, NYSE_CLOSE)
    if trading_day and _at(day, NYSE_OPEN) <= et < _at(day, close):
        early = " (early close)" if day in NYSE_EARLY_CLOSES else ""
        return Session(
            Venue.NYSE,
            SessionState.OPEN,
            f"NYSE open until {close:%H:%M} ET{early}",
            _at(day, close).astimezone(now.tzinfo),
        )
    nxt = _next_nyse_open(et)
    if not trading_day:
        why = "holiday" if day in NYSE_HOLIDAYS else "weekend"
        reason = f"NYSE closed ({why})"
    elif et < _at(day, NYSE_OPEN):
        reason = "NYSE closed (pre-market)"
    else:
        reason = "NYSE closed (after the close)"
    return Session(
        Venue.NYSE, SessionState.CLOSED, reason, nxt.astimezone(now.tzinfo) if nxt else None
    )


def _next_nyse_open(et: datetime) -> datetime | None:
    for offset in range(0, 8):
        day = et.date() + timedelta(days=offset)
        if day.weekday() < 5 and day not in NYSE_HOLIDAYS and _at(day, NYSE_OPEN) > et:
            return _at(day, NYSE_OPEN)
    return None


def cme_equity_session(now: datetime) -> Session:
    """Globex equity-index futures at `now` (aware).

    A Globex day runs 18:00 ET to 17:00 ET the next day; Sunday 18:00 opens the week and Friday
    17:00 closes it; Monday to Thursday 17:00-18:00 is the daily maintenance break. A closed day
    takes out the session that would end on it; an early close ends that session early and the
    market reopens at 18:00 as usual.
    """
    et = now.astimezone(EASTERN)
    day, weekday = et.date(), et.weekday()
    t = et.time()
    # the Globex trading date this moment belongs to (after 18:00 it is the next day's)
    session_day = day + timedelta(days=1) if t >= CME_REOPEN else day
    weekend = weekday == 5 or (weekday == 6 and t < CME_REOPEN) or (weekday == 4 and t >= CME_CLOSE)
    closed_reason = ""
    if weekend:
        closed_reason = "Globex closed (weekend)"
    elif session_day in CME_CLOSED_DAYS:
        closed_reason = "Globex closed (holiday)"
    if closed_reason:
        return Session(
            Venue.CME_EQUITY, SessionState.CLOSED, closed_reason, _next_cme_open(et, now)
        )
    early = CME_EARLY_CLOSES.get(session_day)
    if early is not None and session_day == day and t >= early:
        return Session(
            Venue.CME_EQUITY,
            SessionState.CLOSED,
            f"Globex closed early today ({early:%H:%M} ET)",
            _at(day, CME_REOPEN).astimezone(now.tzinfo),
        )
    if CME_CLOSE <= t < CME_REOPEN:
        return Session(
            Venue.CME_EQUITY,
            SessionState.MAINTENANCE,
            "Globex daily maintenance break (17:00-18:00 ET)",
            _at(day, CME_REOPEN).astimezone(now.tzinfo),
        )
    end = _at(session_day, early or CME_CLOSE)
    return Session(
        Venue.CME_EQUITY,
        SessionState.OPEN,
        f"Globex open until {end:%a %H:%M} ET",
        end.astimezone(now.tzinfo),
    )


def _next_cme_open(et: datetime, now: datetime) -> datetime | None:
    for offset in range(0, 8):
        day = et.date() + timedelta(days=offset)
        opening = _at(day, CME_REOPEN)
        session_day = day + timedelta(days=1)
        if opening <= et or day.weekday() in (4, 5) or session_day in CME_CLOSED_DAYS:
            continue
        return opening.astimezone(now.tzinfo)
    return None


@dataclass(frozen=True)
class ResetWindow:
    """IB's nightly server reset (North America): orders cannot be sent reliably inside it.

    IB publishes Sunday to Friday 23:45-00:45 ET and Saturday 23:45 to Sunday 03:00 ET; both are
    config values because IB moves them and a region's server differs.
    """

    start: time = time(23, 45)
    end: time = time(0, 45)
    weekend_end: time = time(3, 0)

    def contains(self, now: datetime) -> bool:
        et = now.astimezone(EASTERN)
        t, weekday = et.time(), et.weekday()
        if t >= self.start:
            return True
        end = self.weekend_end if weekday == 6 else self.end
        return t < end


def session_for(venue: Venue, now: datetime, reset: ResetWindow | None = None) -> Session:
    """The venue's session at `now`, with IB's nightly reset shown as MAINTENANCE."""
    session = cme_equity_session(now) if venue is Venue.CME_EQUITY else nyse_session(now)
    if reset is not None and reset.contains(now) and session.state is SessionState.OPEN:
        return Session(
            venue,
            SessionState.MAINTENANCE,
            "IB nightly reset window: no sends",
            session.next_change,
        )
    return session


def venue_of(sec_type: str, exchange: str) -> Venue | None:
    """Which calendar a contract trades on; None when deskgate has none for it."""
    if sec_type == "FUT" and exchange in ("CME", "GLOBEX", "CBOT"):
        return Venue.CME_EQUITY
    if sec_type == "STK":
        return Venue.NYSE
    return None
