"""Pure formatting helpers: money, quantities, ages, countdowns and latency percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo


def money(value: Decimal | None, *, signed: bool = False) -> str:
    """`1,234.56`; with `signed` a leading + for gains."""
    if value is None:
        return "-"
    text = f"{value:,.2f}"
    if signed and value > 0:
        text = "+" + text
    return text


def price(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if value == value.quantize(Decimal("0.01")) else f"{value:,}"


def qty(value: Decimal | None) -> str:
    if value is None:
        return "-"
    normal = value.normalize()
    return f"{normal:f}" if normal != normal.to_integral_value() else f"{int(normal):,}"


def pct(ratio: Decimal | float | None) -> str:
    if ratio is None:
        return "-"
    return f"{float(ratio) * 100:.0f}%"


def age(seconds: float) -> str:
    """Human age: `42s`, `3m05s`, `1h02m`."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def duration(seconds: float) -> str:
    """A configured span: `30m`, `90s`, `1h30m`."""
    seconds = int(seconds)
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds:
        return f"{seconds // 60}m"
    return age(seconds)


def countdown(seconds: float) -> str:
    """A token countdown `4:32`; `expired` at zero."""
    if seconds <= 0:
        return "expired"
    whole = math.ceil(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def since(now: datetime, then: datetime | None) -> float | None:
    """Seconds from `then` to `now` (both timezone-aware)."""
    if then is None:
        return None
    return (now - then).total_seconds()


def clock_text(now: datetime) -> str:
    return now.strftime("%H:%M:%S %Z").strip()


EXCHANGE_TZ = ZoneInfo("America/New_York")
REGULAR_SESSION = (time(9, 30), time(16, 0))
EXTENDED_SESSION = (time(4, 0), time(20, 0))


def exchange_time(now: datetime) -> str:
    """`09:30:05 ET open`: US exchange time and the equity session (pre, open, post, closed).
    Weekends are closed; exchange holidays are not known here."""
    et = now.astimezone(EXCHANGE_TZ)
    clock = et.time()
    if et.weekday() >= 5 or not EXTENDED_SESSION[0] <= clock < EXTENDED_SESSION[1]:
        session = "closed"
    elif clock < REGULAR_SESSION[0]:
        session = "pre"
    elif clock < REGULAR_SESSION[1]:
        session = "open"
    else:
        session = "post"
    return f"{et:%H:%M:%S} ET {session}"


def percentile(samples: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile; None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


REFUSED_MARKERS = ("connectionrefused", "connection refused", "errno 111", "connect call failed")
"""How a refused TCP connect reads in ib_async / asyncio errors, whatever wraps it."""


def broker_reason(text: str) -> str:
    """The real reason a broker link is down, first: a refused connect is not the peer closing
    the socket, although the adapter's wrapper may word it so."""
    lowered = text.lower()
    if any(marker in lowered for marker in REFUSED_MARKERS):
        return f"connection refused (TWS/Gateway not running?) - {text}"
    return text
