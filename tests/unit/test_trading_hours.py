"""Trading calendars: Globex equity-index futures, NYSE, IB's nightly reset."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.trading_hours import (
    EASTERN,
    ResetWindow,
    SessionState,
    Venue,
    calendar_known,
    cme_equity_session,
    nyse_session,
    session_for,
    venue_of,
)


def et(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=EASTERN)


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        (et(2026, 11, 30, 10), SessionState.OPEN),  # Monday morning
        (et(2026, 11, 30, 16, 59), SessionState.OPEN),
        (et(2026, 11, 30, 17, 0), SessionState.MAINTENANCE),  # daily break
        (et(2026, 11, 30, 17, 59), SessionState.MAINTENANCE),
        (et(2026, 11, 30, 18, 0), SessionState.OPEN),  # Tuesday's session
        (et(2026, 12, 4, 16, 59), SessionState.OPEN),  # Friday
        (et(2026, 12, 4, 17, 0), SessionState.CLOSED),  # week closes
        (et(2026, 12, 5, 12), SessionState.CLOSED),  # Saturday
        (et(2026, 12, 6, 17, 59), SessionState.CLOSED),  # Sunday before the open
        (et(2026, 12, 6, 18, 0), SessionState.OPEN),  # Sunday open
        (et(2026, 11, 27, 13, 14), SessionState.OPEN),  # day after Thanksgiving, before 13:15
        (et(2026, 11, 27, 13, 15), SessionState.CLOSED),  # early close
        (et(2026, 12, 24, 20), SessionState.CLOSED),  # the Christmas session does not open
        (et(2026, 12, 25, 12), SessionState.CLOSED),
        (et(2026, 12, 27, 18, 0), SessionState.OPEN),
    ],
)
def test_globex_equity_hours(moment: datetime, state: SessionState) -> None:
    assert cme_equity_session(moment).state is state


def test_globex_says_when_it_reopens_and_why_it_is_closed() -> None:
    s = cme_equity_session(et(2026, 12, 5, 12))
    assert "weekend" in s.reason
    assert s.next_change == et(2026, 12, 6, 18)
    m = cme_equity_session(et(2026, 11, 30, 17, 30).astimezone(UTC))
    assert "maintenance" in m.reason and m.next_change == et(2026, 11, 30, 18)
    assert m.next_change is not None and m.next_change.tzinfo == UTC  # in the caller's zone


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        (et(2026, 11, 30, 9, 29), SessionState.CLOSED),
        (et(2026, 11, 30, 9, 30), SessionState.OPEN),
        (et(2026, 11, 30, 15, 59), SessionState.OPEN),
        (et(2026, 11, 30, 16, 0), SessionState.CLOSED),
        (et(2026, 11, 26, 11), SessionState.CLOSED),  # Thanksgiving
        (et(2026, 11, 27, 12, 59), SessionState.OPEN),
        (et(2026, 11, 27, 13, 0), SessionState.CLOSED),  # early close
        (et(2026, 12, 5, 11), SessionState.CLOSED),  # Saturday
        (et(2027, 3, 26, 11), SessionState.CLOSED),  # Good Friday 2027
    ],
)
def test_nyse_hours(moment: datetime, state: SessionState) -> None:
    assert nyse_session(moment).state is state


def test_nyse_names_the_holiday_and_the_next_open() -> None:
    s = nyse_session(et(2026, 11, 26, 11))
    assert "holiday" in s.reason and s.next_change == et(2026, 11, 27, 9, 30)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (et(2026, 11, 30, 23, 44), False),
        (et(2026, 11, 30, 23, 45), True),
        (et(2026, 12, 1, 0, 44), True),
        (et(2026, 12, 1, 0, 45), False),
        (et(2026, 12, 6, 2, 59), True),  # Sunday: the weekend reset runs to 03:00
        (et(2026, 12, 6, 3, 0), False),
    ],
)
def test_ib_reset_window(moment: datetime, inside: bool) -> None:
    assert ResetWindow().contains(moment) is inside


def test_the_reset_window_turns_an_open_session_into_maintenance() -> None:
    s = session_for(Venue.CME_EQUITY, et(2026, 11, 30, 23, 50), ResetWindow())
    assert s.state is SessionState.MAINTENANCE and "reset" in s.reason


def test_contracts_map_to_their_calendar() -> None:
    assert venue_of("FUT", "CME") is Venue.CME_EQUITY
    assert venue_of("STK", "SMART") is Venue.NYSE
    assert venue_of("OPT", "SMART") is None


def test_the_calendar_knows_which_years_it_has() -> None:
    assert calendar_known(date(2027, 6, 1)) and not calendar_known(date(2028, 1, 3))
