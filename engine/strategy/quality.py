"""Quality gates: the data validity score (DVS) per symbol and the execution quality score (EQS)."""

from __future__ import annotations

from datetime import datetime

from contracts.strategy import QualityConfig
from engine.strategy.bars import BarView


def _ramp(value: float, good: float, bad: float) -> float:
    """1 at or below `good`, 0 at or above `bad`, linear between."""
    if value <= good:
        return 1.0
    if value >= bad:
        return 0.0
    return 1.0 - (value - good) / (bad - good)


class DataQuality:
    """DVS in [0, 1] for one symbol's feed: the product of four component scores.

    * stale: the latest bar's age after its close (1 up to `stale_after_s`, 0 at `dead_after_s`);
    * gaps: each missing bar adds `gap_penalty`, decaying by `penalty_decay` per bar;
    * spread: 1 at one tick, 0 at `max_spread_ticks` (from quotes; bars alone assume one tick);
    * outliers: a bar wider than `outlier_range_atr` ATRs adds `outlier_penalty`, decaying.
    A product, not an average: one broken component is enough to stop trading.
    """

    def __init__(self, config: QualityConfig) -> None:
        self.config = config
        self.last_bar_end: datetime | None = None
        self.gap_penalty = 0.0
        self.outlier_penalty = 0.0
        self.spread_ticks = 1.0
        self._last_stamp: float | None = None

    def on_bar(self, bar: BarView, atr: float) -> None:
        cfg = self.config
        self.gap_penalty *= cfg.penalty_decay
        self.outlier_penalty *= cfg.penalty_decay
        gap = bar.gap_before
        if self._last_stamp is not None and not gap:
            gap = bar.stamp - self._last_stamp > 1.5 * bar.seconds
        if gap and self._last_stamp is not None:
            self.gap_penalty = min(1.0, self.gap_penalty + cfg.gap_penalty)
        if atr > 0 and (bar.high - bar.low) > cfg.outlier_range_atr * atr:
            self.outlier_penalty = min(1.0, self.outlier_penalty + cfg.outlier_penalty)
        self._last_stamp = bar.stamp
        self.last_bar_end = bar.end

    def new_session(self) -> None:
        """The overnight break is not a gap."""
        self._last_stamp = None

    def on_spread(self, ticks: float) -> None:
        self.spread_ticks = max(0.0, ticks)

    def components(self, now: datetime) -> dict[str, float]:
        cfg = self.config
        age = 0.0 if self.last_bar_end is None else (now - self.last_bar_end).total_seconds()
        return {
            "stale": _ramp(age, cfg.stale_after_s, cfg.dead_after_s),
            "gaps": 1.0 - self.gap_penalty,
            "spread": _ramp(self.spread_ticks, 1.0, cfg.max_spread_ticks),
            "outliers": 1.0 - self.outlier_penalty,
        }

    def score(self, now: datetime) -> float:
        """The product of `components` (in their order), without building them (every bar)."""
        cfg = self.config
        age = 0.0 if self.last_bar_end is None else (now - self.last_bar_end).total_seconds()
        return (
            1.0
            * _ramp(age, cfg.stale_after_s, cfg.dead_after_s)
            * (1.0 - self.gap_penalty)
            * _ramp(self.spread_ticks, 1.0, cfg.max_spread_ticks)
            * (1.0 - self.outlier_penalty)
        )


class ExecutionQuality:
    """EQS in [0, 1]: slippage, rejects and latency of recent orders (EMA over the last ~10).

    The product of slippage (1 at zero ticks, 0 at `max_slippage_ticks`), reject rate (0 at
    `max_reject_rate`) and ack latency (0 at `max_latency_ms`). No orders yet scores 1.
    """

    alpha = 0.2

    def __init__(self, config: QualityConfig) -> None:
        self.config = config
        self.slippage_ticks = 0.0
        self.reject_rate = 0.0
        self.latency_ms = 0.0

    def on_fill(self, slippage_ticks: float) -> None:
        self.slippage_ticks += self.alpha * (max(0.0, slippage_ticks) - self.slippage_ticks)
        self.reject_rate += self.alpha * (0.0 - self.reject_rate)

    def on_reject(self) -> None:
        self.reject_rate += self.alpha * (1.0 - self.reject_rate)

    def on_latency(self, ms: float) -> None:
        self.latency_ms += self.alpha * (max(0.0, ms) - self.latency_ms)

    def components(self) -> dict[str, float]:
        cfg = self.config
        return {
            "slippage": _ramp(self.slippage_ticks, 0.0, cfg.max_slippage_ticks),
            "rejects": _ramp(self.reject_rate, 0.0, cfg.max_reject_rate),
            "latency": _ramp(self.latency_ms, 0.0, cfg.max_latency_ms),
        }

    def score(self) -> float:
        out = 1.0
        for value in self.components().values():
            out *= value
        return out


def is_margin_call(cushion: float | None, available_funds: float | None, limit: float) -> bool:
    """IB cushion at or below `limit`, or negative available funds, is a margin call."""
    if cushion is not None and cushion <= limit:
        return True
    return available_funds is not None and available_funds < 0
