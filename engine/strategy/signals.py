"""The signal catalogue: named, bounded primitives over 1-minute bars, one bar in, O(1) work."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime

from contracts.strategy import SignalConfig
from engine.strategy.bars import Aggregator, BarView

NAN = math.nan

CATALOGUE: dict[str, str] = {
    "atr": "S1 Wilder average true range, price units (>= 0)",
    "atr_slow": "S2 slow Wilder ATR, price units (>= 0)",
    "vol_regime": "S3 ATR / slow ATR, clipped to [0, 5]; > 1.5 is an expanding tape",
    "vwap": "S4 VWAP of the typical price from the regular-hours open (or session start)",
    "vwap_dist_atr": "S5 (close - VWAP) / ATR, clipped to ±clip",
    "ema_fast": "S6 fast EMA of the close",
    "ema_slow": "S7 slow EMA of the close",
    "ema_slope_atr": "S8 one-bar change of the fast EMA / ATR, clipped",
    "ltf_trend": "S9 1-minute trend: +1 fast EMA above slow, -1 below, 0 equal or warming up",
    "htf_trend": "S10 5-minute trend, same rule on 5-minute bars aggregated here",
    "rsi": "S11 Wilder RSI, [0, 100]",
    "momentum_atr": "S12 (close - close n bars ago) / ATR, clipped",
    "efficiency": "S13 Kaufman efficiency ratio |net move| / path over n bars, [0, 1]",
    "volume_ratio": "S14 volume / EMA of volume, clipped to [0, 10]; > 1.5 is a surge",
    "realized_vol_bps": "S15 st. dev. of 1-bar returns over n bars, basis points (>= 0)",
    "range_atr": "S16 bar range / ATR, clipped to [0, clip]",
    "body_ratio": "S17 |close - open| / range, [0, 1]",
    "close_location": "S18 (close - low) / range, [0, 1]; 1 closes on the high",
    "or_high": "S19 opening-range high (NaN until the range is complete)",
    "or_low": "S20 opening-range low (NaN until complete)",
    "or_position": "S21 close vs opening range: +1 above, -1 below, 0 inside or not ready",
    "pdh": "S22 prior session high (NaN on the first session)",
    "pdl": "S23 prior session low",
    "pdc": "S24 prior session close",
    "dist_pdh_atr": "S25 (close - prior high) / ATR, clipped",
    "dist_pdl_atr": "S26 (close - prior low) / ATR, clipped",
    "sweep_high": "S27 1 when the bar took out the n-bar high and closed back under it",
    "sweep_low": "S28 1 when the bar took out the n-bar low and closed back over it",
    "failed_break_high": "S29 1 when a close above a level (OR, overnight high, PDH) fails",
    "failed_break_low": "S30 1 when a close below a level (OR, overnight low, PDL) fails",
    "session_minutes": "S31 minutes since the regular-hours open (or first bar), >= 0",
    "up_streak": "S32 consecutive higher closes, [0, 10]",
    "down_streak": "S33 consecutive lower closes, [0, 10]",
    "gap_open_atr": "S34 session open - prior close, in ATRs, clipped (0 on the first session)",
    "session_range_atr": "S35 session high - low in ATRs, clipped to [0, 4 x clip]",
}


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


@dataclass(slots=True)
class Signals:
    """The signal values after the latest bar (see CATALOGUE), plus levels the templates cite."""

    close: float = NAN
    high: float = NAN
    low: float = NAN
    open: float = NAN
    atr: float = 0.0
    atr_slow: float = 0.0
    vol_regime: float = 1.0
    vwap: float = NAN
    vwap_dist_atr: float = 0.0
    ema_fast: float = NAN
    ema_slow: float = NAN
    ema_slope_atr: float = 0.0
    ltf_trend: int = 0
    htf_trend: int = 0
    rsi: float = 50.0
    momentum_atr: float = 0.0
    efficiency: float = 0.0
    volume_ratio: float = 1.0
    realized_vol_bps: float = 0.0
    range_atr: float = 0.0
    body_ratio: float = 0.0
    close_location: float = 0.5
    or_high: float = NAN
    or_low: float = NAN
    or_position: int = 0
    pdh: float = NAN
    pdl: float = NAN
    pdc: float = NAN
    dist_pdh_atr: float = 0.0
    dist_pdl_atr: float = 0.0
    sweep_high: int = 0
    sweep_high_level: float = NAN
    sweep_low: int = 0
    sweep_low_level: float = NAN
    failed_break_high: int = 0
    failed_break_high_level: float = NAN
    failed_break_high_extreme: float = NAN
    failed_break_low: int = 0
    failed_break_low_level: float = NAN
    failed_break_low_extreme: float = NAN
    level_above: float = NAN
    level_below: float = NAN
    session_minutes: float = 0.0
    up_streak: int = 0
    down_streak: int = 0
    gap_open_atr: float = 0.0
    session_range_atr: float = 0.0
    session_high: float = NAN
    session_low: float = NAN
    bars: int = 0
    """Bars seen in this session."""
    warm: bool = False
    """True once every look-back has enough bars to mean something."""

    def finite(self) -> dict[str, float]:
        """The catalogue's values that are finite numbers (for evidence and the journal)."""
        out: dict[str, float] = {}
        for name, value in asdict(self).items():
            if name in CATALOGUE and isinstance(value, int | float) and math.isfinite(value):
                out[name] = round(float(value), 4)
        return out


INSIDE = -1
ACCEPTED = -2


class _Level:
    """Failed-break tracking at one price level, for one side (O(1) per bar)."""

    __slots__ = ("above", "broken_at", "extreme", "price")

    def __init__(self, price: float, above: bool) -> None:
        self.price = price
        self.above = above
        self.broken_at = INSIDE
        self.extreme = NAN

    def update(self, bar: BarView, index: int, window: int) -> bool:
        """True on the bar that closes back inside within `window` bars of a close beyond.

        A break that holds past the window is accepted: its return inside is not a failed
        break (the level has to be re-broken from inside first).
        """
        beyond = bar.close > self.price if self.above else bar.close < self.price
        if self.broken_at == ACCEPTED:
            if not beyond:
                self.broken_at = INSIDE
            return False
        if self.broken_at == INSIDE:
            if beyond:
                self.broken_at = index
                self.extreme = bar.high if self.above else bar.low
            return False
        self.extreme = max(self.extreme, bar.high) if self.above else min(self.extreme, bar.low)
        if not beyond:
            self.broken_at = INSIDE
            return True
        if index - self.broken_at >= window:
            self.broken_at = ACCEPTED
        return False


class SignalEngine:
    """Computes `Signals` incrementally for one symbol; call `new_session` at each session start."""

    def __init__(self, config: SignalConfig) -> None:
        self.config = config
        self.signals = Signals()
        self._a_fast = 2.0 / (config.ema_fast_bars + 1)
        self._a_slow = 2.0 / (config.ema_slow_bars + 1)
        self._a_vol = 2.0 / (config.volume_ema_bars + 1)
        self._a_htf_fast = 2.0 / (config.htf_ema_fast_bars + 1)
        self._a_htf_slow = 2.0 / (config.htf_ema_slow_bars + 1)
        self._htf = Aggregator(config.higher_timeframe_seconds)
        self._htf_fast = NAN
        self._htf_slow = NAN
        self._htf_bars = 0
        self._prev_close = NAN
        self._first = True
        self._prev_fast = NAN
        self._avg_gain = 0.0
        self._avg_loss = 0.0
        self._vol_ema = 0.0
        n_close = max(config.momentum_bars, config.efficiency_bars) + 1
        self._closes: deque[float] = deque(maxlen=n_close)
        self._paths: deque[float] = deque(maxlen=config.efficiency_bars)
        self._path_sum = 0.0
        self._returns: deque[float] = deque(maxlen=config.realized_vol_bars)
        self._ret_sum = 0.0
        self._ret_sq = 0.0
        self._highs: deque[tuple[int, float]] = deque()
        self._lows: deque[tuple[int, float]] = deque()
        self._index = 0
        self._total_bars = 0
        self._session_open_ts: float | None = None
        self._rth_open: float | None = None
        self._overnight_pending = False
        self._pre_high, self._pre_low = -math.inf, math.inf
        self._pv = 0.0
        self._v = 0.0
        self._or_high = NAN
        self._or_low = NAN
        self._levels: list[_Level] = []

    # --- session boundaries ------------------------------------------------------------------

    def new_session(self, rth_open: datetime | None = None) -> None:
        """Roll the finished session into prior-day levels and reset session state.

        `rth_open` anchors the opening range and `session_minutes`; None uses the first bar.
        """
        self._rth_open = rth_open.timestamp() if rth_open is not None else None
        self._overnight_pending = rth_open is not None
        self._pre_high, self._pre_low = -math.inf, math.inf
        s = self.signals
        if s.bars:
            s.pdh, s.pdl, s.pdc = s.session_high, s.session_low, s.close
        s.bars = 0
        s.session_high = s.session_low = NAN
        s.vwap = NAN
        s.or_high = s.or_low = NAN
        s.or_position = 0
        s.gap_open_atr = 0.0
        self._session_open_ts = None
        self._pv = self._v = 0.0
        self._or_high = self._or_low = NAN
        self._levels = []
        if not math.isnan(s.pdh):
            self._levels = [_Level(s.pdh, True), _Level(s.pdl, False)]
        self._htf.flush()

    # --- one bar -------------------------------------------------------------------------------

    def update(self, bar: BarView) -> Signals:
        """Advance by one 1-minute bar and return the (mutated, shared) signal record."""
        self.advance(bar)
        return self.derive(bar)

    def advance(self, bar: BarView) -> Signals:
        """The state part of `update`: what later bars depend on (averages, windows, levels,
        sweeps, streaks). The record's other fields are stale until `derive(bar)`; the runtime
        skips that on bars where nothing decides (outside the entry window, nothing open)."""
        cfg = self.config
        s = self.signals
        clip = cfg.clip
        h, lo, c, o, v = bar.high, bar.low, bar.close, bar.open, bar.volume
        prev = self._prev_close
        first = prev != prev  # NaN: the first bar ever
        self._first = first
        self._index += 1
        self._total_bars += 1
        idx = self._index
        # ATR (Wilder), seeded by the first true range.
        tr = h - lo if first else max(h - lo, abs(h - prev), abs(lo - prev))
        if s.atr == 0.0:
            s.atr = s.atr_slow = tr
        else:
            s.atr += (tr - s.atr) / cfg.atr_bars
            s.atr_slow += (tr - s.atr_slow) / cfg.atr_slow_bars
        atr = s.atr if s.atr > 0 else 1e-9
        # Session: first bar, VWAP sums, high/low, opening range.
        if s.bars == 0:
            self._session_open_ts = bar.stamp
            s.session_high, s.session_low = h, lo
            s.gap_open_atr = 0.0 if math.isnan(s.pdc) else _clip((o - s.pdc) / atr, -clip, clip)
        s.bars += 1
        if h > s.session_high:
            s.session_high = h
        if lo < s.session_low:
            s.session_low = lo
        opened = self._rth_open or self._session_open_ts or bar.stamp
        s.session_minutes = max(0.0, (bar.stamp + bar.seconds - opened) / 60.0)
        in_range_window = self._rth_open is None or bar.stamp >= self._rth_open
        if self._overnight_pending and in_range_window:
            # At the regular-hours open the overnight (Globex) high and low become levels and
            # VWAP restarts: day traders measure stretch from the regular session's VWAP.
            self._overnight_pending = False
            self._pv = self._v = 0.0
            if s.bars > 1:
                self._levels += [_Level(self._pre_high, True), _Level(self._pre_low, False)]
        if not in_range_window:
            self._pre_high = max(self._pre_high, h)
            self._pre_low = min(self._pre_low, lo)
        self._pv += (h + lo + c) / 3.0 * v
        self._v += v
        if s.or_high != s.or_high and in_range_window:  # NaN: the range is still forming
            self._or_high = h if math.isnan(self._or_high) else max(self._or_high, h)
            self._or_low = lo if math.isnan(self._or_low) else min(self._or_low, lo)
            if s.session_minutes >= cfg.opening_range_minutes:
                s.or_high, s.or_low = self._or_high, self._or_low
                self._levels += [_Level(s.or_high, True), _Level(s.or_low, False)]
        # EMAs and the higher timeframe.
        self._prev_fast = s.ema_fast
        if first:
            s.ema_fast = s.ema_slow = c
        else:
            s.ema_fast += self._a_fast * (c - s.ema_fast)
            s.ema_slow += self._a_slow * (c - s.ema_slow)
        for done in self._htf.add(bar):
            self._on_htf(done)
        # RSI averages, return and path windows, streaks.
        if not first:
            change = c - prev
            n = cfg.rsi_bars
            self._avg_gain += ((change if change > 0 else 0.0) - self._avg_gain) / n
            self._avg_loss += ((-change if change < 0 else 0.0) - self._avg_loss) / n
            ret = change / prev * 10_000.0
            if len(self._returns) == self._returns.maxlen:
                gone = self._returns[0]
                self._ret_sum -= gone
                self._ret_sq -= gone * gone
            self._returns.append(ret)
            self._ret_sum += ret
            self._ret_sq += ret * ret
            step = abs(change)
            if len(self._paths) == self._paths.maxlen:
                self._path_sum -= self._paths[0]
            self._paths.append(step)
            self._path_sum += step
            s.up_streak = min(s.up_streak + 1, 10) if change > 0 else 0
            s.down_streak = min(s.down_streak + 1, 10) if change < 0 else 0
        self._closes.append(c)
        e = cfg.efficiency_bars
        closes = self._closes
        if len(closes) > e and self._path_sum > 0:  # kept when the path is flat: state
            s.efficiency = _clip(abs(c - closes[-1 - e]) / self._path_sum, 0.0, 1.0)
        # Volume average.
        if self._vol_ema == 0.0:
            self._vol_ema = v
        else:
            self._vol_ema += self._a_vol * (v - self._vol_ema)
        # Sweeps against the previous n bars' extremes (monotonic deques: amortised O(1)).
        self._sweeps(bar, idx)
        # Failed breaks of the session's levels (at most four).
        self._failed_breaks(bar, idx)
        s.open, s.high, s.low, s.close = o, h, lo, c
        self._prev_close = c
        return s

    def derive(self, bar: BarView) -> Signals:
        """The rest of `update` for the bar just advanced: every value that is a function of
        the state and this bar alone (so skipping it on a bar changes nothing later)."""
        cfg = self.config
        s = self.signals
        clip = cfg.clip
        h, lo, c, o, v = bar.high, bar.low, bar.close, bar.open, bar.volume
        atr = s.atr if s.atr > 0 else 1e-9
        s.vol_regime = _clip(s.atr / s.atr_slow, 0.0, 5.0) if s.atr_slow > 0 else 1.0
        s.session_range_atr = _clip((s.session_high - s.session_low) / atr, 0.0, 4 * clip)
        s.vwap = self._pv / self._v if self._v > 0 else (h + lo + c) / 3.0
        s.vwap_dist_atr = _clip((c - s.vwap) / atr, -clip, clip)
        if math.isnan(s.or_high):
            s.or_position = 0
        else:
            s.or_position = 1 if c > s.or_high else -1 if c < s.or_low else 0
        if not math.isnan(s.pdh):
            s.dist_pdh_atr = _clip((c - s.pdh) / atr, -clip, clip)
            s.dist_pdl_atr = _clip((c - s.pdl) / atr, -clip, clip)
        first = self._first
        slope = 0.0 if first else (s.ema_fast - self._prev_fast) / atr
        s.ema_slope_atr = 0.0 if first else _clip(slope, -clip, clip)
        s.ltf_trend = (s.ema_fast > s.ema_slow) - (s.ema_fast < s.ema_slow)
        if not first:
            total = self._avg_gain + self._avg_loss
            s.rsi = 50.0 if total == 0 else 100.0 * self._avg_gain / total
            k = len(self._returns)
            if k >= 2:
                var = (self._ret_sq - self._ret_sum * self._ret_sum / k) / (k - 1)
                s.realized_vol_bps = math.sqrt(var) if var > 0 else 0.0
        closes = self._closes
        m = cfg.momentum_bars
        if len(closes) > m:
            s.momentum_atr = _clip((c - closes[-1 - m]) / atr, -clip, clip)
        s.volume_ratio = _clip(v / self._vol_ema, 0.0, 10.0) if self._vol_ema > 0 else 1.0
        rng = h - lo
        s.range_atr = _clip(rng / atr, 0.0, clip)
        s.body_ratio = abs(c - o) / rng if rng > 0 else 0.0
        s.close_location = (c - lo) / rng if rng > 0 else 0.5
        warm_after = max(cfg.atr_bars, cfg.ema_slow_bars, cfg.efficiency_bars)
        s.warm = self._total_bars > warm_after and self._htf_bars > 1
        return s

    def _on_htf(self, bar: BarView) -> None:
        s = self.signals
        self._htf_bars += 1
        if math.isnan(self._htf_fast):
            self._htf_fast = self._htf_slow = bar.close
        else:
            self._htf_fast += self._a_htf_fast * (bar.close - self._htf_fast)
            self._htf_slow += self._a_htf_slow * (bar.close - self._htf_slow)
        s.htf_trend = (self._htf_fast > self._htf_slow) - (self._htf_fast < self._htf_slow)

    def _sweeps(self, bar: BarView, idx: int) -> None:
        s = self.signals
        n = self.config.sweep_lookback_bars
        highs, lows = self._highs, self._lows
        while highs and highs[0][0] <= idx - n - 1:
            highs.popleft()
        while lows and lows[0][0] <= idx - n - 1:
            lows.popleft()
        s.sweep_high = s.sweep_low = 0
        if len(highs) and idx > n:
            prior_high = highs[0][1]
            if bar.high > prior_high and bar.close < prior_high:
                s.sweep_high, s.sweep_high_level = 1, prior_high
        if len(lows) and idx > n:
            prior_low = lows[0][1]
            if bar.low < prior_low and bar.close > prior_low:
                s.sweep_low, s.sweep_low_level = 1, prior_low
        while highs and highs[-1][1] <= bar.high:
            highs.pop()
        highs.append((idx, bar.high))
        while lows and lows[-1][1] >= bar.low:
            lows.pop()
        lows.append((idx, bar.low))

    def _failed_breaks(self, bar: BarView, idx: int) -> None:
        s = self.signals
        window = self.config.failed_break_window_bars
        s.failed_break_high = s.failed_break_low = 0
        above = below = NAN
        for level in self._levels:
            if level.update(bar, idx, window):
                if level.above:
                    s.failed_break_high = 1
                    s.failed_break_high_level, s.failed_break_high_extreme = (
                        level.price,
                        level.extreme,
                    )
                else:
                    s.failed_break_low = 1
                    s.failed_break_low_level, s.failed_break_low_extreme = (
                        level.price,
                        level.extreme,
                    )
            p = level.price
            if p >= bar.close and (math.isnan(above) or p < above):
                above = p
            if p <= bar.close and (math.isnan(below) or p > below):
                below = p
        s.level_above, s.level_below = above, below
