"""Session metrics math: percentiles, Sharpe, probabilistic Sharpe, drawdown, rates and deltas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between ranks; None if empty."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    frac = pos - low
    return ordered[low] + (ordered[high] - ordered[low]) * frac


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1)."""
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def sharpe(returns: Sequence[float]) -> float | None:
    """Per-period Sharpe ratio (mean / sample stdev, not annualised); None if undefined."""
    if len(returns) < 2:
        return None
    sd = _stdev(returns)
    if sd == 0:
        return None
    return _mean(returns) / sd


def probabilistic_sharpe(returns: Sequence[float], benchmark: float = 0.0) -> float | None:
    """Probability that the true Sharpe exceeds `benchmark` (Bailey & Lopez de Prado, 2012).

    PSR = Phi((SR - SR*) * sqrt(n - 1) / sqrt(1 - skew * SR + (kurtosis - 1) / 4 * SR^2)),
    with per-period SR, sample skewness and (non-excess) kurtosis. None below 3 returns.
    """
    n = len(returns)
    sr = sharpe(returns)
    if sr is None or n < 3:
        return None
    m = _mean(returns)
    sd_pop = math.sqrt(sum((v - m) ** 2 for v in returns) / n)
    skew = sum((v - m) ** 3 for v in returns) / n / sd_pop**3
    kurt = sum((v - m) ** 4 for v in returns) / n / sd_pop**4
    denom = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    if denom <= 0:
        return None
    z = (sr - benchmark) * math.sqrt(n - 1) / math.sqrt(denom)
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def max_drawdown_pct(equity: Sequence[Decimal]) -> Decimal:
    """Largest peak-to-trough fall of an equity curve, in percent of the peak (>= 0)."""
    peak: Decimal | None = None
    worst = Decimal(0)
    for value in equity:
        if peak is None or value > peak:
            peak = value
        if peak and peak > 0:
            worst = max(worst, (peak - value) / peak * 100)
    return worst


def pct_change(start: Decimal, end: Decimal) -> Decimal | None:
    """(end - start) / start in percent; None when start is zero."""
    if start == 0:
        return None
    return (end - start) / start * 100


def rate_pct(part: int, whole: int) -> float | None:
    """part / whole in percent; None when whole is zero."""
    return None if whole == 0 else part / whole * 100


def delta_pct(measured: float, reference: float) -> float | None:
    """How far `measured` is from `reference`, in percent of the reference (>= 0)."""
    if reference <= 0:
        return None
    return abs(measured - reference) / reference * 100
