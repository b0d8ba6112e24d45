"""Session times in the exchange's clock: trading day, regular-hours open, entry window, flat-by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contracts.strategy import SessionConfig


@dataclass(frozen=True)
class SessionTimes:
    """One trading day's moments, as aware datetimes in UTC."""

    day: date
    rth_open: datetime
    entries_from: datetime
    entries_until: datetime
    flat_by: datetime

    def may_enter(self, ts: datetime) -> bool:
        return self.entries_from <= ts <= self.entries_until


def _at(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """The moment in UTC: bars are stamped in UTC, and comparing datetimes of one tzinfo skips
    the zone arithmetic (the runtime compares every bar against these)."""
    return datetime.combine(day, time.fromisoformat(hhmm), zone).astimezone(UTC)


def session_times(config: SessionConfig, day: date) -> SessionTimes:
    zone = ZoneInfo(config.exchange_tz)
    return SessionTimes(
        day,
        _at(day, config.rth_open, zone),
        _at(day, config.entries_from, zone),
        _at(day, config.entries_until, zone),
        _at(day, config.flat_by, zone),
    )


def trading_day(config: SessionConfig, ts: datetime) -> date:
    """The trading day a moment belongs to: evenings after the session open count as tomorrow."""
    local = ts.astimezone(ZoneInfo(config.exchange_tz))
    if local.time() >= time.fromisoformat(config.session_open):
        return local.date() + timedelta(days=1)
    return local.date()
