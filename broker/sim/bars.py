"""A deterministic-per-seed bar generator with regimes (trend, range, bursts, gaps at the open).

Every trading session is a path of 5-second bars in whole ticks, generated from
`(symbol, day, seed)` alone: the session opens at the day's anchor price and is bent (a linear
bridge) to close where the next session's open minus its opening gap says, so consecutive days
join with exactly that gap. Inside a session the path runs through regimes: TREND (steady drift),
RANGE (mean reversion to the segment's middle) and BURST (3-4x volatility, short), quieter and
thinner outside regular hours. Futures also jump at the regular-hours open (08:30 Chicago).
Longer bars are aggregates of the 5-second path, so a 1-minute bar always agrees with its twelve
5-second bars.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from broker.sim.sessions import (
    next_trading_day,
    previous_trading_days,
    regular_hours,
    session_bounds,
    trading_day_of,
)
from broker.sim.symbols import DEFAULT_SYMBOLS, SymbolSpec, synthetic_spec
from contracts.market import Bar

BASE_SECONDS = 5
"""The generator's resolution: IB's real-time bar length."""
DAILY_VOLATILITY = 0.009
"""Standard deviation of one session's return at volatility_ticks == 2 (scaled with it)."""
_ANCHOR_CYCLE_DAYS = 61


class Regime(StrEnum):
    TREND = "trend"
    RANGE = "range"
    BURST = "burst"


_REGIME_WEIGHTS = ((Regime.TREND, 0.35), (Regime.RANGE, 0.45), (Regime.BURST, 0.20))
_REGIME_MINUTES = {Regime.TREND: (30, 120), Regime.RANGE: (30, 120), Regime.BURST: (3, 15)}


@dataclass(frozen=True)
class _Step:
    """One 5-second bar of the path, prices in ticks."""

    open: int
    high: int
    low: int
    close: int
    volume: int


def spec_for(symbol: str) -> SymbolSpec:
    """The symbol table's spec, or a stable stand-in stock for an unknown symbol."""
    for spec in DEFAULT_SYMBOLS:
        if spec.symbol == symbol:
            return spec
    return synthetic_spec(symbol)


def session_bars(symbol: str, day: date, *, seed: int, bar_seconds: int = 60) -> list[Bar]:
    """One full trading session of bars (empty on a day without a session).

    Same output for the same arguments. `bar_seconds` must be a multiple of 5; a value at least
    the session's length gives one bar for the whole session.
    """
    return list(_session_bars(symbol, day, seed, bar_seconds))


@lru_cache(maxsize=64)
def _session_bars(symbol: str, day: date, seed: int, bar_seconds: int) -> tuple[Bar, ...]:
    if bar_seconds <= 0 or bar_seconds % BASE_SECONDS:
        raise ValueError(f"bar_seconds must be a positive multiple of 5, not {bar_seconds}")
    spec = spec_for(symbol)
    bounds = session_bounds(spec, day)
    if bounds is None:
        return ()
    steps = _path(spec, day, seed)
    per_bar = bar_seconds // BASE_SECONDS
    bars = []
    for first in range(0, len(steps), per_bar):
        chunk = steps[first : first + per_bar]
        ts = bounds[0] + timedelta(seconds=first * BASE_SECONDS)
        bars.append(_bar(spec, ts, len(chunk) * BASE_SECONDS, chunk))
    return tuple(bars)


def _bar(spec: SymbolSpec, ts: datetime, seconds: int, chunk: list[_Step]) -> Bar:
    tick = spec.tick
    volume = sum(s.volume for s in chunk)
    weighted = sum((s.high + s.low + s.close) * s.volume for s in chunk)
    wap_ticks = Decimal(weighted) / (3 * volume) if volume else Decimal(chunk[-1].close)
    return Bar.model_construct(  # values are valid by construction; this runs per 5 s of a day
        symbol=spec.symbol,
        ts=ts.astimezone(UTC),
        seconds=seconds,
        open=chunk[0].open * tick,
        high=max(s.high for s in chunk) * tick,
        low=min(s.low for s in chunk) * tick,
        close=chunk[-1].close * tick,
        volume=Decimal(volume),
        wap=(wap_ticks * tick).quantize(Decimal("0.0001")),
        count=max(1, volume // 4) if volume else 0,
    )


# --- the path -------------------------------------------------------------------------------


def _rng(spec: SymbolSpec, day: date, seed: int, what: str) -> random.Random:
    return random.Random(f"{spec.symbol}:{seed}:{day.isoformat()}:{what}")


def _anchor(spec: SymbolSpec, day: date, seed: int) -> float:
    """The day's opening price: a slow wave around the start price plus a little noise."""
    phase = random.Random(f"{spec.symbol}:{seed}:phase").uniform(0, 2 * math.pi)
    wave = 0.05 * math.sin(2 * math.pi * day.toordinal() / _ANCHOR_CYCLE_DAYS + phase)
    noise = _rng(spec, day, seed, "anchor").uniform(-0.015, 0.015)
    return float(spec.start_price) * (1 + wave + noise)


def _opening_gap(spec: SymbolSpec, day: date, seed: int) -> float:
    """How far the day opens from the previous close (a fraction of the price)."""
    rng = _rng(spec, day, seed, "gap")
    size = rng.uniform(0.002, 0.008) if rng.random() < 0.3 else rng.uniform(0.0, 0.001)
    return size if rng.random() < 0.5 else -size


def _step_sigma(spec: SymbolSpec, steps: int) -> float:
    """Standard deviation of one 5-second move, in ticks."""
    daily = DAILY_VOLATILITY * spec.volatility_ticks / 2
    return float(spec.start_price) * daily / math.sqrt(steps) / float(spec.tick)


def _regimes(rng: random.Random, steps: int) -> list[Regime]:
    out: list[Regime] = []
    kinds = [k for k, _ in _REGIME_WEIGHTS]
    weights = [w for _, w in _REGIME_WEIGHTS]
    while len(out) < steps:
        kind = rng.choices(kinds, weights)[0]
        low, high = _REGIME_MINUTES[kind]
        out.extend([kind] * (rng.randint(low, high) * 60 // BASE_SECONDS))
    return out[:steps]


@lru_cache(maxsize=32)
def _path_cached(symbol: str, day: date, seed: int) -> tuple[_Step, ...]:
    return tuple(_generate(spec_for(symbol), day, seed))


def _path(spec: SymbolSpec, day: date, seed: int) -> list[_Step]:
    return list(_path_cached(spec.symbol, day, seed))


def _generate(spec: SymbolSpec, day: date, seed: int) -> list[_Step]:
    bounds = session_bounds(spec, day)
    assert bounds is not None
    open_ts, close_ts = bounds
    steps = int((close_ts - open_ts).total_seconds()) // BASE_SECONDS
    rng = _rng(spec, day, seed, "path")
    tick = float(spec.tick)
    start = _anchor(spec, day, seed) / tick
    following = next_trading_day(spec, day)
    target = _anchor(spec, following, seed) * (1 - _opening_gap(spec, following, seed)) / tick
    rth_start, rth_end = regular_hours(spec, day)
    rth_first = int((rth_start - open_ts).total_seconds()) // BASE_SECONDS
    rth_last = int((rth_end - open_ts).total_seconds()) // BASE_SECONDS
    sigma = _step_sigma(spec, steps)
    regimes = _regimes(rng, steps)
    raw = [start]
    direction, middle = 1.0, start
    for i in range(steps):
        regime = regimes[i]
        if i == 0 or regime is not regimes[i - 1]:
            direction = rng.choice((-1.0, 1.0)) * rng.uniform(0.03, 0.08)
            middle = raw[-1]
        regular = rth_first <= i < rth_last
        scale = 1.0 if regular else 0.5
        x = raw[-1]
        if regime is Regime.TREND:
            x += direction * sigma * scale + rng.gauss(0, sigma * scale)
        elif regime is Regime.RANGE:
            x += 0.01 * (middle - x) + rng.gauss(0, 0.8 * sigma * scale)
        else:
            x += rng.gauss(0, 3.5 * sigma * scale)
        if spec.is_future and i == rth_first:
            x += _opening_gap(spec, day, seed + 1) * start
        raw.append(x)
    drift = target - raw[-1]
    ticks = [max(1, round(x + drift * i / steps)) for i, x in enumerate(raw)]
    base_volume = 30 if spec.is_future else 2000
    out = []
    for i in range(steps):
        o, c = ticks[i], ticks[i + 1]
        high = max(o, c) + (1 if rng.random() < 0.3 else 0)
        low = max(1, min(o, c) - (1 if rng.random() < 0.3 else 0))
        regular = rth_first <= i < rth_last
        busy = (3.0 if regimes[i] is Regime.BURST else 1.0) * (1.0 if regular else 0.2)
        volume = int(base_volume * busy * rng.lognormvariate(0, 0.5))
        out.append(_Step(o, high, low, c, volume))
    return out


# --- live bars --------------------------------------------------------------------------------


def live_bar(symbol: str, start: datetime, *, seed: int) -> Bar | None:
    """The 5-second bar that opens at `start` (floored to 5 s), or None outside the session."""
    spec = spec_for(symbol)
    start = floor_to_bar(start)
    day = trading_day_of(spec, start)
    bounds = session_bounds(spec, day)
    if bounds is None or not bounds[0] <= start < bounds[1]:
        return None
    index = int((start - bounds[0]).total_seconds()) // BASE_SECONDS
    steps = _path_cached(spec.symbol, day, seed)
    if index >= len(steps):
        return None
    return _bar(spec, start, BASE_SECONDS, [steps[index]])


def same_session(symbol: str, first: datetime, second: datetime) -> bool:
    """Whether two moments fall in the same trading session of `symbol`."""
    spec = spec_for(symbol)
    return trading_day_of(spec, first) == trading_day_of(spec, second)


def floor_to_bar(ts: datetime, seconds: int = BASE_SECONDS) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def bars_between(
    symbol: str, start: datetime, end: datetime, *, seed: int, bar_seconds: int = 60
) -> list[Bar]:
    """Every complete bar opening in [start, end), across sessions, oldest first."""
    spec = spec_for(symbol)
    first, last = trading_day_of(spec, start), trading_day_of(spec, end)
    span = max(1, (last - first).days + 1)
    out: list[Bar] = []
    for day in previous_trading_days(spec, last, span):
        if day < first:
            continue
        for bar in _session_bars(symbol, day, seed, bar_seconds):
            if start <= bar.ts and bar.ts + timedelta(seconds=bar.seconds) <= end:
                out.append(bar)
    return out


def recent_sessions(symbol: str, end: datetime, count: int) -> list[date]:
    """The last `count` trading days whose session opened before `end`, oldest first."""
    spec = spec_for(symbol)
    last = trading_day_of(spec, end)
    bounds = session_bounds(spec, last)
    if bounds is None or bounds[0] >= end:
        last -= timedelta(days=1)
    return previous_trading_days(spec, last, count)


# --- requests as IB phrases them ----------------------------------------------------------------

SESSION_BAR = 86_400
"""A `1 day` bar: one bar per whole session."""
_UNIT_SECONDS = {"sec": 1, "secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600}
_DURATION_DAYS = {"D": 1, "W": 5, "M": 21, "Y": 252}


def bar_seconds_of(bar_size: str) -> int:
    """IB's bar size (`5 secs`, `1 min`, `1 hour`, `1 day`) in seconds; a day is a session."""
    count_text, _, unit = bar_size.strip().partition(" ")
    count = int(count_text)
    if unit == "day" and count == 1:
        return SESSION_BAR
    if unit not in _UNIT_SECONDS or count <= 0:
        raise ValueError(f"bar size {bar_size!r} is not supported")
    seconds = count * _UNIT_SECONDS[unit]
    if seconds % BASE_SECONDS:
        raise ValueError(f"bar size {bar_size!r} is not a multiple of 5 seconds")
    return seconds


def bars_for_request(
    symbol: str,
    *,
    duration: str,
    bar_size: str,
    use_rth: bool,
    end: datetime,
    seed: int,
) -> list[Bar]:
    """Historical bars the way reqHistoricalData selects them: complete bars up to `end`,
    `N S` seconds back or `N D/W/M/Y` sessions back, optionally regular hours only."""
    spec = spec_for(symbol)
    bar_seconds = bar_seconds_of(bar_size)
    count_text, _, unit = duration.strip().partition(" ")
    count = int(count_text)
    if count <= 0 or unit not in {"S", *_DURATION_DAYS}:
        raise ValueError(f"duration {duration!r} is not supported")
    if unit == "S":
        start = end - timedelta(seconds=count)
    else:
        days = recent_sessions(symbol, end, count * _DURATION_DAYS[unit])
        bounds = session_bounds(spec, days[0])
        assert bounds is not None
        start = bounds[0]
    bars = bars_between(symbol, start, end, seed=seed, bar_seconds=bar_seconds)
    if bar_seconds >= SESSION_BAR:
        in_progress = _session_so_far(spec, end, seed)
        return bars + ([in_progress] if in_progress is not None else [])
    if use_rth and spec.is_future:
        bars = [b for b in bars if _in_regular_hours(spec, b)]
    return bars


def _session_so_far(spec: SymbolSpec, end: datetime, seed: int) -> Bar | None:
    """The day in progress as one partial daily bar (TWS sends it as the last bar)."""
    day = trading_day_of(spec, end)
    bounds = session_bounds(spec, day)
    if bounds is None or not bounds[0] < end < bounds[1]:
        return None
    done = int((end - bounds[0]).total_seconds()) // BASE_SECONDS
    steps = list(_path_cached(spec.symbol, day, seed)[:done])
    return _bar(spec, bounds[0], done * BASE_SECONDS, steps) if steps else None


def _in_regular_hours(spec: SymbolSpec, bar: Bar) -> bool:
    rth_start, rth_end = regular_hours(spec, trading_day_of(spec, bar.ts))
    return rth_start <= bar.ts < rth_end
