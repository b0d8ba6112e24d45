"""Beliefs F1–F6: constraints that turn signals into sigmoid likelihoods, gated and tracked."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.strategy.config import BeliefConfig
from engine.strategy.signals import Signals

DESCRIPTIONS: dict[str, str] = {
    "F1": "mean reversion: price stretched from VWAP in a ranging tape snaps back",
    "F2": "trend persistence: momentum with the 5-minute trend and an efficient tape continues",
    "F3": "breakout failure: a close beyond a level that is back inside traps the breakout side",
    "F4": "liquidity sweep: a run of stops beyond an extreme that closes back inside reverses",
    "F5": "tradeable volatility: ATR near its slow average (neither dead nor exploding)",
    "F6": "participation: volume above its average confirms the bar's direction",
}


def sigmoid(x: float) -> float:
    """Logistic function, safe for any finite input."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(slots=True)
class Belief:
    """One constraint's state after the latest bar."""

    name: str
    likelihood: float = 0.0
    direction: int = 0
    """+1 favours longs, -1 shorts, 0 says nothing about direction."""
    applicable: bool = False
    change_ema: float = 0.0
    stable_bars: int = 0
    """Consecutive bars the belief has been applicable."""
    stable: bool = False

    def settle(
        self, likelihood: float, direction: int, applicable: bool, cfg: BeliefConfig
    ) -> None:
        change = abs(likelihood - self.likelihood)
        self.change_ema += cfg.stability_alpha * (change - self.change_ema)
        self.likelihood = likelihood
        self.direction = direction
        self.applicable = applicable
        self.stable_bars = self.stable_bars + 1 if applicable else 0
        self.stable = applicable and self.change_ema < cfg.stable_change_max

    def describe(self) -> str:
        arrow = {1: "long", -1: "short", 0: "-"}[self.direction]
        gate = "applies" if self.applicable else "n/a"
        return f"{self.name} {self.likelihood:.2f} {arrow} ({gate})"


class BeliefEngine:
    """Updates F1–F6 from the latest `Signals` (constant work per bar)."""

    def __init__(self, config: BeliefConfig) -> None:
        self.config = config
        self.beliefs = {name: Belief(name) for name in DESCRIPTIONS}

    def update(self, s: Signals) -> dict[str, Belief]:
        cfg = self.config
        b = self.beliefs
        warm = s.warm
        stretch = abs(s.vwap_dist_atr)
        direction = -1 if s.vwap_dist_atr > 0 else 1 if s.vwap_dist_atr < 0 else 0
        b["F1"].settle(
            sigmoid(cfg.f1_k * (stretch - cfg.f1_x0)),
            direction,
            warm and s.efficiency < cfg.chop_efficiency_max and s.vol_regime < cfg.f5_high,
            cfg,
        )
        mom = s.momentum_atr
        mdir = 1 if mom > 0 else -1 if mom < 0 else 0
        b["F2"].settle(
            sigmoid(cfg.f2_k * (abs(mom) - cfg.f2_x0)),
            mdir,
            warm and s.efficiency >= cfg.trend_efficiency_min and s.htf_trend == mdir != 0,
            cfg,
        )
        if s.failed_break_high:
            b["F3"].settle(cfg.f3_base + 0.3 * (1.0 - s.close_location), -1, warm, cfg)
        elif s.failed_break_low:
            b["F3"].settle(cfg.f3_base + 0.3 * s.close_location, 1, warm, cfg)
        else:
            b["F3"].settle(0.0, 0, False, cfg)
        if s.sweep_high:
            b["F4"].settle(cfg.f4_base + 0.3 * (1.0 - s.close_location), -1, warm, cfg)
        elif s.sweep_low:
            b["F4"].settle(cfg.f4_base + 0.3 * s.close_location, 1, warm, cfg)
        else:
            b["F4"].settle(0.0, 0, False, cfg)
        vr = s.vol_regime
        b["F5"].settle(
            sigmoid(6.0 * (vr - cfg.f5_low)) * sigmoid(6.0 * (cfg.f5_high - vr)), 0, warm, cfg
        )
        bar_dir = 1 if s.close > s.open else -1 if s.close < s.open else 0
        b["F6"].settle(sigmoid(cfg.f6_k * (s.volume_ratio - cfg.f6_x0)), bar_dir, warm, cfg)
        return b
