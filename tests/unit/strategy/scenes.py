"""Constructed bar sequences that set up each template (and ones that must not)."""

from __future__ import annotations

from engine.strategy.bars import BarView
from engine.strategy.beliefs import BeliefEngine
from engine.strategy.config import StrategyConfig
from engine.strategy.signals import SignalEngine
from engine.strategy.templates import Context
from tests.unit.strategy.helpers import RTH_OPEN, bar, chop


def context_after(bars: list[BarView], config: StrategyConfig | None = None) -> Context:
    cfg = config or StrategyConfig()
    signals = SignalEngine(cfg.signals)
    beliefs = BeliefEngine(cfg.beliefs)
    signals.new_session(RTH_OPEN)
    s = signals.signals
    b = beliefs.beliefs
    for one in bars:
        s = signals.update(one)
        b = beliefs.update(s)
    return Context("MES", s, b, 0.25)


def k1_stretch_down() -> list[BarView]:
    """A range, then a choppy drift down far below VWAP; the last bar closes up off its low."""
    bars = chop(30)
    price = 5000.0
    for i in range(24):
        if i % 2 == 0:
            o, c = price, price - 1.5
        else:
            o, c = price, price + 0.75
        bars.append(bar(30 + i, o, max(o, c) + 0.25, min(o, c) - 0.25, c))
        price = c
    return bars


def k2_failed_break_high() -> list[BarView]:
    """The opening range forms, a close above its high, then a close back under it."""
    bars = chop(30, amp=3.0)  # opening range 4998.25 - 5001.75
    bars.append(bar(30, 5001.5, 5003.0, 5001.5, 5002.5))
    bars.append(bar(31, 5002.5, 5002.75, 5000.75, 5001.0))
    return bars


def k3_sweep_low() -> list[BarView]:
    """A range; one bar runs the stops under the 20-bar low and closes back high in the range."""
    bars = chop(40)
    bars.append(bar(40, 5000.0, 5000.75, 4998.25, 5000.5, 300))
    return bars


def k4_trend_up() -> list[BarView]:
    """A steady climb with shallow pullbacks, then a strong up bar on a volume surge."""
    bars = chop(10)
    price = 5000.0
    for i in range(40):
        step = 0.5 if i % 4 != 3 else -0.25
        o, c = price, price + step
        bars.append(bar(10 + i, o, max(o, c) + 0.25, min(o, c) - 0.25, c, 100))
        price = c
    bars.append(bar(50, price, price + 1.25, price - 0.25, price + 1.0, 400))
    return bars
