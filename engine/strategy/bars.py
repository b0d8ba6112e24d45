"""Bars as the runtime sees them (floats, once per bar) and the one place bars are aggregated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contracts.market import Bar

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class BarView:
    """One bar in floats for fast signal arithmetic; `ts` is the bar's open time (UTC)."""

    symbol: str
    ts: datetime
    seconds: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    gap_before: bool = False
    end: datetime = EPOCH
    """The bar's close time (filled in from ts + seconds)."""
    stamp: float = 0.0
    """`ts` as POSIX seconds (computed once: the signals compare times on every bar)."""

    def __post_init__(self) -> None:
        self.end = self.ts + timedelta(seconds=self.seconds)
        self.stamp = self.ts.timestamp()


def view_of(bar: Bar, *, gap_before: bool = False) -> BarView:
    return BarView(
        bar.symbol,
        bar.ts,
        bar.seconds,
        float(bar.open),
        float(bar.high),
        float(bar.low),
        float(bar.close),
        float(bar.volume),
        gap_before,
    )


class Aggregator:
    """Rolls bars of one length into bars of `seconds` (5 s -> 1 min, 1 min -> 5 min).

    Buckets are aligned to the epoch (a 5-minute bar opens at :00, :05, ...). A bar is emitted
    when the first bar of the next bucket arrives, or when the bucket's last sub-bar arrives
    (so a 1-minute bar is ready at its close, not one bar late). A gap flag on any input bar
    is carried to the bar that contains it.
    """

    def __init__(self, seconds: int) -> None:
        if seconds <= 0:
            raise ValueError(f"aggregation length must be positive, not {seconds}")
        self.seconds = seconds
        self._current: BarView | None = None
        self._bucket = -1

    def add(self, bar: BarView) -> list[BarView]:
        """Feed one bar; returns the aggregate bars it completed (usually none or one)."""
        if bar.seconds > self.seconds or self.seconds % bar.seconds:
            raise ValueError(f"cannot roll {bar.seconds}-second bars into {self.seconds} seconds")
        stamp = int(bar.stamp)
        bucket = stamp - stamp % self.seconds
        done: list[BarView] = []
        cur = self._current
        if cur is not None and bucket != self._bucket:
            done.append(cur)
            cur = None
        if cur is None:
            start = bar.ts - timedelta(seconds=stamp - bucket)
            cur = BarView(
                bar.symbol,
                start,
                self.seconds,
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume,
                bar.gap_before,
            )
            self._bucket = bucket
        else:
            cur.high = max(cur.high, bar.high)
            cur.low = min(cur.low, bar.low)
            cur.close = bar.close
            cur.volume += bar.volume
            cur.gap_before = cur.gap_before or bar.gap_before
        if stamp + bar.seconds >= bucket + self.seconds:
            done.append(cur)
            self._current, self._bucket = None, -1
        else:
            self._current = cur
        return done

    def flush(self) -> BarView | None:
        """The partial bar in progress (at a session's end), or None."""
        cur, self._current, self._bucket = self._current, None, -1
        return cur
