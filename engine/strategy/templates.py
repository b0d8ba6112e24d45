"""The strategy interface and the decision templates K1–K5, with the library that routes bars."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from engine.strategy.beliefs import Belief
from engine.strategy.config import StrategyConfig, TemplateConfig
from engine.strategy.signals import Signals


@dataclass(frozen=True, slots=True)
class Context:
    """What a strategy sees on one bar."""

    symbol: str
    signals: Signals
    beliefs: dict[str, Belief]
    tick: float


@dataclass(frozen=True, slots=True)
class Skip:
    """No trade, with a short code (for de-duplicating the journal) and a plain-English reason."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Setup:
    """A detected opportunity: direction, likelihood, and why."""

    template: str
    side: int
    likelihood: float
    beliefs: tuple[str, ...]
    level: float
    """The price the setup is about (VWAP, the failed level, the swept extreme, the trend EMA)."""
    stop_anchor: float
    """Where the thesis is wrong: the stop goes one buffer beyond it."""
    target_anchor: float
    """A structural target (NaN: use the reward/risk multiple)."""
    reason: str
    signals: dict[str, float] = field(default_factory=dict)
    via: str = ""
    """K5 only: the template whose setup passed the noise filter."""


@dataclass(frozen=True, slots=True)
class EntryPlan:
    setup: Setup
    side: int
    entry: float
    stop: float
    target: float
    stop_ticks: int
    target_ticks: int


class OpenTrade(Protocol):
    """What a strategy needs to know about its open trade."""

    side: int
    entry: float
    stop: float
    initial_stop: float
    target: float
    bars_held: int
    mfe_r: float
    setup: Setup


def round_to_tick(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 10)


def _signals_of(s: Signals, names: Iterable[str]) -> dict[str, float]:
    out = {}
    for name in names:
        value = getattr(s, name)
        if isinstance(value, int | float) and math.isfinite(value):
            out[name] = round(float(value), 4)
    return out


def _price(value: float) -> str:
    return f"{value:,.2f}"


class Template:
    """Shared planning for K1–K5. Subclasses implement `detect` and `thesis_broken`."""

    name = ""
    title = ""

    def __init__(self, config: StrategyConfig) -> None:
        self.config = config
        self.knobs: TemplateConfig = config.template(self.name)
        self.last_result: tuple[float, str] | None = None

    # --- the interface -------------------------------------------------------------------------

    def detect(self, ctx: Context) -> Setup | Skip:
        raise NotImplementedError

    def plan_entry(self, ctx: Context, setup: Setup) -> EntryPlan | Skip:
        """Limit entry at the close; stop beyond the anchor by a buffer; structural or R target.

        A stop that would be wider than the constitution's ticks is a skip, never squeezed: a
        stop moved inside the structure that defines the trade is a stop that gets hit.
        """
        tick = ctx.tick
        side = setup.side
        entry = round_to_tick(ctx.signals.close, tick)
        stop = round_to_tick(setup.stop_anchor - side * self.knobs.stop_buffer_ticks * tick, tick)
        stop_ticks = round((entry - stop) * side / tick)
        max_ticks = self.config.sizing.max_stop_ticks
        if stop_ticks <= 0:
            return Skip("stop_side", f"{self.name} skipped: stop {_price(stop)} not beyond entry")
        if stop_ticks > max_ticks:
            return Skip(
                "stop_wide",
                f"{self.name} skipped: stop would be {stop_ticks} ticks "
                f"(beyond {_price(setup.stop_anchor)}), over the {max_ticks}-tick limit",
            )
        r_target = entry + side * self.knobs.reward_risk * stop_ticks * tick
        target = r_target
        anchor = setup.target_anchor
        if math.isfinite(anchor) and (anchor - entry) * side > 0:
            target = anchor if (anchor - r_target) * side < 0 else r_target
        target = round_to_tick(target, tick)
        target_ticks = round((target - entry) * side / tick)
        if target_ticks < max(1, stop_ticks // 2):
            return Skip(
                "target_near",
                f"{self.name} skipped: target {_price(target)} only {target_ticks} ticks away "
                f"for a {stop_ticks}-tick stop",
            )
        return EntryPlan(setup, side, entry, stop, target, stop_ticks, target_ticks)

    def plan_management(self, ctx: Context, trade: OpenTrade) -> float | None:
        """A new stop or None: after `breakeven_at_r` R in favour the stop goes to entry."""
        if trade.mfe_r >= self.config.manager.breakeven_at_r and (
            (trade.stop - trade.entry) * trade.side < 0
        ):
            return trade.entry
        return None

    def plan_exit(self, ctx: Context, trade: OpenTrade) -> tuple[str, str] | None:
        """(reason, explanation) to close now, or None. Reasons: thesis, volatility, time."""
        s = ctx.signals
        broken = self.thesis_broken(ctx, trade)
        if broken:
            return "thesis", broken
        against = (s.close - s.open) * trade.side < 0
        if against and s.range_atr >= self.config.manager.volatility_exit_range_atr:
            return "volatility", (
                f"a {s.range_atr:.1f}-ATR bar against the trade (limit "
                f"{self.config.manager.volatility_exit_range_atr:.1f})"
            )
        limit = self.knobs.time_stop_bars
        risk = abs(trade.entry - trade.initial_stop) or ctx.tick
        open_r = (s.close - trade.entry) * trade.side / risk
        if (trade.bars_held >= limit and open_r < 0.5) or trade.bars_held >= 2 * limit:
            return "time", f"{trade.bars_held} bars without follow-through ({open_r:+.2f} R)"
        return None

    def thesis_broken(self, ctx: Context, trade: OpenTrade) -> str:
        """Why the reason for the trade no longer holds ('' while it does)."""
        raise NotImplementedError

    def post_trade_update(self, pnl_r: float, exit_reason: str) -> None:
        """Template memory after a closed trade (the learning loop keeps the statistics)."""
        self.last_result = (pnl_r, exit_reason)


class K1VwapReversion(Template):
    """K1: fade a stretch from session VWAP in a ranging tape, target VWAP."""

    name = "K1"
    title = "VWAP mean reversion"

    def detect(self, ctx: Context) -> Setup | Skip:
        s, f1, f2 = ctx.signals, ctx.beliefs["F1"], ctx.beliefs["F2"]
        if not f1.applicable:
            return Skip(
                "k1_gate",
                f"K1 skipped: tape not ranging (efficiency {s.efficiency:.2f}, "
                f"volatility x{s.vol_regime:.2f})",
            )
        if f1.likelihood < self.knobs.min_likelihood:
            return Skip(
                "k1_stretch",
                f"K1 skipped: only {s.vwap_dist_atr:+.2f} ATR from VWAP {_price(s.vwap)} "
                f"(F1 {f1.likelihood:.2f} < {self.knobs.min_likelihood:.2f})",
            )
        side = f1.direction
        if f2.applicable and f2.direction == -side:
            return Skip("k1_trend", "K1 skipped: a trend (F2) runs against the fade")
        turning = s.close_location >= 0.5 if side > 0 else s.close_location <= 0.5
        if not turning:
            return Skip("k1_turn", "K1 skipped: the bar did not close off its extreme")
        anchor = s.low if side > 0 else s.high
        return Setup(
            self.name,
            side,
            f1.likelihood,
            ("F1",),
            s.vwap,
            anchor,
            s.vwap,
            f"{s.vwap_dist_atr:+.2f} ATR from VWAP {_price(s.vwap)}, ranging tape",
            _signals_of(s, ("vwap_dist_atr", "efficiency", "vol_regime", "close_location")),
        )

    def thesis_broken(self, ctx: Context, trade: OpenTrade) -> str:
        f2 = ctx.beliefs["F2"]
        if f2.applicable and f2.direction == -trade.side and f2.likelihood >= 0.6:
            return f"a trend against the fade took over (F2 {f2.likelihood:.2f})"
        return ""


class K2FailedBreak(Template):
    """K2: a close beyond the opening range or prior-day level that fails back inside: fade it."""

    name = "K2"
    title = "failed break"

    def detect(self, ctx: Context) -> Setup | Skip:
        s, f3 = ctx.signals, ctx.beliefs["F3"]
        window = self.config.signals.failed_break_window_bars
        if not f3.applicable:
            above = s.level_above
            where = f"above {_price(above)}" if math.isfinite(above) else "of a session level"
            return Skip("k2_none", f"K2 skipped: no failed break {where} in the last {window} bars")
        if f3.likelihood < self.knobs.min_likelihood:
            return Skip("k2_weak", f"K2 skipped: failed break but F3 {f3.likelihood:.2f} is weak")
        side = f3.direction
        level = s.failed_break_high_level if side < 0 else s.failed_break_low_level
        extreme = s.failed_break_high_extreme if side < 0 else s.failed_break_low_extreme
        other = s.or_low if side < 0 else s.or_high
        return Setup(
            self.name,
            side,
            f3.likelihood,
            ("F3",),
            level,
            extreme,
            other if math.isfinite(other) else s.vwap,
            f"failed break {'above' if side < 0 else 'below'} {_price(level)} "
            f"(extreme {_price(extreme)})",
            _signals_of(s, ("close_location", "volume_ratio", "or_position", "vwap_dist_atr")),
        )

    def thesis_broken(self, ctx: Context, trade: OpenTrade) -> str:
        s = ctx.signals
        level = trade.setup.level
        if (s.close - level) * trade.side < 0:
            return f"price closed back beyond {_price(level)}: the break is holding"
        return ""


class K3Sweep(Template):
    """K3: a sweep of the recent high/low that closes back inside: trade the reversal."""

    name = "K3"
    title = "liquidity sweep"

    def detect(self, ctx: Context) -> Setup | Skip:
        s, f4 = ctx.signals, ctx.beliefs["F4"]
        n = self.config.signals.sweep_lookback_bars
        if not f4.applicable:
            return Skip("k3_none", f"K3 skipped: no sweep of the {n}-bar high or low")
        if f4.likelihood < self.knobs.min_likelihood:
            return Skip("k3_weak", f"K3 skipped: sweep closed poorly (F4 {f4.likelihood:.2f})")
        side = f4.direction
        level = s.sweep_high_level if side < 0 else s.sweep_low_level
        anchor = s.high if side < 0 else s.low
        return Setup(
            self.name,
            side,
            f4.likelihood,
            ("F4",),
            level,
            anchor,
            s.vwap,
            f"swept {'high' if side < 0 else 'low'} {_price(level)} to {_price(anchor)} "
            "and closed back inside",
            _signals_of(s, ("close_location", "range_atr", "volume_ratio")),
        )

    def thesis_broken(self, ctx: Context, trade: OpenTrade) -> str:
        s = ctx.signals
        if (s.close - trade.setup.level) * trade.side < 0:
            return f"price closed beyond the swept level {_price(trade.setup.level)} again"
        return ""


class K4Momentum(Template):
    """K4: join an efficient trend when the 1- and 5-minute trends agree and volume confirms."""

    name = "K4"
    title = "momentum"

    def detect(self, ctx: Context) -> Setup | Skip:
        s, f2, f5, f6 = ctx.signals, ctx.beliefs["F2"], ctx.beliefs["F5"], ctx.beliefs["F6"]
        if not f2.applicable:
            return Skip(
                "k4_gate",
                f"K4 skipped: no aligned trend (efficiency {s.efficiency:.2f}, "
                f"HTF {s.htf_trend:+d}, momentum {s.momentum_atr:+.2f} ATR)",
            )
        if f2.likelihood < self.knobs.min_likelihood:
            return Skip("k4_weak", f"K4 skipped: momentum F2 {f2.likelihood:.2f} too weak")
        side = f2.direction
        if s.ltf_trend != side:
            return Skip("k4_ltf", "K4 skipped: the 1-minute trend disagrees")
        if f6.direction != side or f6.likelihood < 0.5:
            return Skip("k4_volume", f"K4 skipped: volume does not confirm (x{s.volume_ratio:.2f})")
        if f5.likelihood < 0.4:
            return Skip("k4_vol", f"K4 skipped: volatility out of band (x{s.vol_regime:.2f})")
        anchor = min(s.low, s.ema_fast) if side > 0 else max(s.high, s.ema_fast)
        return Setup(
            self.name,
            side,
            f2.likelihood,
            ("F2", "F5", "F6"),
            s.ema_fast,
            anchor,
            math.nan,
            f"{s.momentum_atr:+.2f} ATR momentum with the 5-minute trend, "
            f"volume x{s.volume_ratio:.2f}",
            _signals_of(
                s, ("momentum_atr", "efficiency", "htf_trend", "ltf_trend", "volume_ratio")
            ),
        )

    def thesis_broken(self, ctx: Context, trade: OpenTrade) -> str:
        s = ctx.signals
        if s.ltf_trend == -trade.side and s.htf_trend != trade.side:
            return "the 1-minute trend turned and the 5-minute trend no longer supports it"
        return ""


class K5NoiseFilter(Template):
    """K5: the meta-strategy. Takes the best K1–K4 setup of the bar only when the noise filter
    passes: at least `agree` applicable beliefs at 0.5 or more point the same way, volatility is
    in band (F5), the bar is not a spike (range under 2.5 ATR) and has a real body (no doji)."""

    name = "K5"
    title = "noise filter"
    agree = 2

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.inner: tuple[Template, ...] = (
            K1VwapReversion(config),
            K2FailedBreak(config),
            K3Sweep(config),
            K4Momentum(config),
        )
        self._by_name = {t.name: t for t in self.inner}

    def detect(self, ctx: Context) -> Setup | Skip:
        setups = [x for x in (t.detect(ctx) for t in self.inner) if isinstance(x, Setup)]
        if not setups:
            return Skip("k5_none", "K5 skipped: no K1–K4 setup on this bar")
        best = max(setups, key=lambda x: x.likelihood)
        s, beliefs = ctx.signals, ctx.beliefs
        agreeing = [
            b
            for b in beliefs.values()
            if b.applicable and b.direction == best.side and b.likelihood >= 0.5
        ]
        if len(agreeing) < self.agree:
            return Skip(
                "k5_agree",
                f"K5 skipped: {best.template} setup but only {len(agreeing)} belief(s) agree",
            )
        if beliefs["F5"].likelihood < 0.5:
            return Skip("k5_vol", f"K5 skipped: volatility out of band (x{s.vol_regime:.2f})")
        if s.range_atr > 2.5 or s.body_ratio < 0.3:
            return Skip("k5_noise", "K5 skipped: the bar is a spike or a doji (noise)")
        likelihood = sum(b.likelihood for b in agreeing) / len(agreeing)
        return Setup(
            self.name,
            best.side,
            likelihood,
            tuple(b.name for b in agreeing),
            best.level,
            best.stop_anchor,
            best.target_anchor,
            f"{best.template} setup confirmed by {len(agreeing)} beliefs: {best.reason}",
            {**best.signals, **_signals_of(s, ("body_ratio", "range_atr", "vol_regime"))},
            via=best.template,
        )

    def thesis_broken(self, ctx: Context, trade: OpenTrade) -> str:
        inner = self._by_name.get(trade.setup.via)
        return inner.thesis_broken(ctx, trade) if inner else ""


TEMPLATE_CLASSES: dict[str, type[Template]] = {
    cls.name: cls for cls in (K1VwapReversion, K2FailedBreak, K3Sweep, K4Momentum, K5NoiseFilter)
}


class StrategyLibrary:
    """The enabled templates, built once from config, in a fixed order."""

    def __init__(self, config: StrategyConfig) -> None:
        unknown = [n for n in config.enabled if n not in TEMPLATE_CLASSES]
        if unknown:
            raise ValueError(
                f"unknown strategy {', '.join(unknown)}; choose from {', '.join(TEMPLATE_CLASSES)}"
            )
        self.strategies: dict[str, Template] = {
            name: TEMPLATE_CLASSES[name](config) for name in config.enabled
        }

    def all(self) -> list[Template]:
        return list(self.strategies.values())

    def get(self, name: str) -> Template | None:
        return self.strategies.get(name)
