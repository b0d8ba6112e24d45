"""The strategy runtime's config section (`[strategy]` in deskgate.toml): every number it uses."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _StrategySection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StrategyMode(StrEnum):
    """OBSERVE: decide and journal. SHADOW: virtual fills. LIVE: intents to the approval queue."""

    OBSERVE = "OBSERVE"
    SHADOW = "SHADOW"
    LIVE = "LIVE"


class SignalConfig(_StrategySection):
    """Look-backs of the signal catalogue, in 1-minute bars unless named otherwise."""

    atr_bars: int = Field(default=14, ge=2)
    atr_slow_bars: int = Field(default=60, ge=2)
    ema_fast_bars: int = Field(default=9, ge=2)
    ema_slow_bars: int = Field(default=21, ge=3)
    htf_ema_fast_bars: int = Field(default=9, ge=2)
    """On 5-minute bars."""
    htf_ema_slow_bars: int = Field(default=21, ge=3)
    rsi_bars: int = Field(default=14, ge=2)
    momentum_bars: int = Field(default=5, ge=1)
    efficiency_bars: int = Field(default=10, ge=2)
    volume_ema_bars: int = Field(default=20, ge=2)
    realized_vol_bars: int = Field(default=20, ge=2)
    sweep_lookback_bars: int = Field(default=20, ge=2)
    """A sweep takes out the extreme of this many previous bars and closes back inside."""
    failed_break_window_bars: int = Field(default=6, ge=1)
    """A close beyond a level that is back inside within this many bars is a failed break."""
    opening_range_minutes: int = Field(default=30, ge=1)
    """Opening range: the first N minutes after the regular-hours open (or, with no known open,
    after the session's first bar)."""
    higher_timeframe_seconds: int = Field(default=300, ge=60)
    trend_session_efficiency: float = Field(default=0.3, ge=0, le=1)
    """A session whose |close - open| / path reaches this is a trend day, else a range day."""
    clip: float = Field(default=5.0, gt=0)
    """Ratios measured in ATRs are clipped to ±clip so one odd bar cannot dominate."""


class BeliefConfig(_StrategySection):
    """Sigmoid centres (x0) and steepness (k) of F1–F6, plus gating and stability."""

    f1_x0: float = Field(default=1.6, ge=-10, le=10)
    f1_k: float = Field(default=3.0, gt=0, le=50)
    f2_x0: float = Field(default=0.9, ge=-10, le=10)
    f2_k: float = Field(default=3.0, gt=0, le=50)
    f3_base: float = Field(default=0.62, ge=0, le=1)
    f4_base: float = Field(default=0.6, ge=0, le=1)
    f5_low: float = Field(default=0.6, gt=0, le=10)
    f5_high: float = Field(default=1.8, gt=0, le=10)
    f6_x0: float = Field(default=1.4, ge=-10, le=10)
    f6_k: float = Field(default=2.5, gt=0, le=50)
    chop_efficiency_max: float = Field(default=0.45, ge=0, le=1)
    """F1 (mean reversion) applies only when the efficiency ratio is below this: a ranging tape."""
    trend_efficiency_min: float = Field(default=0.35, ge=0, le=1)
    """F2 (trend) applies only when the efficiency ratio is at least this."""
    stability_alpha: float = Field(default=0.3, gt=0, le=1)
    stable_change_max: float = Field(default=0.15, gt=0)
    """A belief is stable while the EMA of its bar-to-bar change stays under this."""


class TemplateConfig(_StrategySection):
    """One decision template's knobs."""

    mode: StrategyMode = StrategyMode.LIVE
    min_likelihood: float = Field(default=0.55, ge=0, le=1)
    reward_risk: float = Field(default=1.5, gt=0)
    """Target distance as a multiple of the stop distance unless a structural target is nearer."""
    stop_buffer_ticks: int = Field(default=2, ge=0)
    time_stop_bars: int = Field(default=20, ge=1)
    prior_win_rate: float = Field(default=0.5, gt=0, lt=1)
    """What the template is assumed to win before its own trades say otherwise."""
    belief_weight: float = Field(default=0.5, ge=0, le=1)
    """How far the belief likelihood moves the win probability away from the prior."""


def _templates() -> dict[str, TemplateConfig]:
    return {
        "K1": TemplateConfig(min_likelihood=0.6, reward_risk=1.2, time_stop_bars=25),
        "K2": TemplateConfig(min_likelihood=0.55, reward_risk=1.5, time_stop_bars=20),
        "K3": TemplateConfig(min_likelihood=0.55, reward_risk=1.6, time_stop_bars=20),
        "K4": TemplateConfig(min_likelihood=0.6, reward_risk=1.8, time_stop_bars=30),
        "K5": TemplateConfig(min_likelihood=0.6, reward_risk=1.5, time_stop_bars=25),
    }


class EucConfig(_StrategySection):
    """Expected utility net of costs, and the context modifiers of its threshold θ."""

    theta: float = Field(default=0.05, ge=-1, le=2)
    """Minimum EUC as a fraction of the risk in dollars."""
    commission_per_side: Decimal = Field(default=Decimal("0.62"), ge=0)
    """Per contract per side (IB tiered MES, exchange and clearing fees included)."""
    slippage_ticks: int = Field(default=1, ge=0)
    """Assumed slippage on the exit side (stops are market orders)."""
    htf_misaligned: float = Field(default=0.10, ge=0, le=1)
    high_volatility: float = Field(default=0.05, ge=0, le=1)
    late_session: float = Field(default=0.05, ge=0, le=1)
    low_dvs: float = Field(default=0.05, ge=0, le=1)
    low_eqs: float = Field(default=0.05, ge=0, le=1)
    after_loss_today: float = Field(default=0.05, ge=0, le=1)
    late_session_minutes: int = Field(default=330, ge=0)
    """θ rises this many minutes after the session's first bar."""


class StrategyTier(_StrategySection):
    """Accounts from `min_equity` up may trade `max_contracts` with `templates`."""

    name: str = Field(min_length=1, max_length=16)
    min_equity: Decimal = Field(ge=0)
    max_contracts: int = Field(ge=0)
    templates: tuple[str, ...] = ("K1", "K2", "K3", "K4", "K5")


def _tiers() -> tuple[StrategyTier, ...]:
    return (
        StrategyTier(name="T0", min_equity=Decimal(0), max_contracts=0, templates=()),
        StrategyTier(name="T1", min_equity=Decimal(1000), max_contracts=1),
        StrategyTier(name="T2", min_equity=Decimal(10000), max_contracts=2),
    )


class SizingConfig(_StrategySection):
    """The constitution (engine risk checks enforce it again at proposal) and equity fraction."""

    max_risk_per_trade: Decimal = Field(default=Decimal("15"), gt=0)
    max_stop_ticks: int = Field(default=12, gt=0)
    max_trades_per_day: int = Field(default=2, ge=0)
    daily_loss_limit: Decimal = Field(default=Decimal("30"), gt=0)
    max_consecutive_losses: int = Field(default=2, gt=0)
    equity_risk_fraction: Decimal = Field(default=Decimal("0.015"), gt=0, le=1)
    """Never risk more than this fraction of account equity on one trade."""
    tiers: tuple[StrategyTier, ...] = Field(default_factory=_tiers)


class ManagerConfig(_StrategySection):
    """Trade manager: break-even move, volatility exit, entry order life."""

    breakeven_at_r: float = Field(default=1.0, gt=0)
    """Move the stop to entry once the trade has run this many R in favour."""
    volatility_exit_range_atr: float = Field(default=3.0, gt=0)
    """A bar against the trade wider than this many ATRs closes it."""
    entry_ttl_bars: int = Field(default=2, ge=1)
    """An unfilled limit entry is cancelled after this many bars."""


class LearningConfig(_StrategySection):
    throttle_win_rate: float = Field(default=0.40, ge=0, le=1)
    min_trades_for_throttle: int = Field(default=5, ge=1)
    friction_min: float = Field(default=0.20, ge=0)
    friction_max: float = Field(default=0.50, ge=0)
    quarantine_consecutive_losses: int = Field(default=2, ge=1)
    min_trades_for_expectancy: int = Field(default=4, ge=1)
    expectancy_window: int = Field(default=10, ge=2)
    reenable_shadow_wins: int = Field(default=2, ge=1)


class QualityConfig(_StrategySection):
    """DVS (data validity) and EQS (execution quality) scoring and their gates."""

    dvs_kill: float = Field(default=0.30, ge=0, le=1)
    dvs_min_entry: float = Field(default=0.60, ge=0, le=1)
    eqs_min_entry: float = Field(default=0.50, ge=0, le=1)
    stale_after_s: float = Field(default=150.0, gt=0)
    """A 1-minute bar older than this (after its close) starts to lower DVS ..."""
    dead_after_s: float = Field(default=900.0, gt=0)
    """... down to zero at this age."""
    gap_penalty: float = Field(default=0.25, ge=0, le=1)
    outlier_penalty: float = Field(default=0.4, ge=0, le=1)
    outlier_range_atr: float = Field(default=6.0, gt=0)
    penalty_decay: float = Field(default=0.9, gt=0, lt=1)
    max_spread_ticks: float = Field(default=6.0, gt=1)
    max_slippage_ticks: float = Field(default=4.0, gt=0)
    max_reject_rate: float = Field(default=0.5, gt=0, le=1)
    max_latency_ms: float = Field(default=2000.0, gt=0)
    margin_call_cushion: float = Field(default=0.0, ge=0, le=1)
    """IB cushion (excess liquidity / net liquidation) at or below this is a margin call."""


class SessionConfig(_StrategySection):
    """When the bot may trade, in the exchange's clock (CME equity index futures by default).

    A careful day trader of MES trades the regular hours: the opening range forms after the
    08:30 Chicago open, no new risk late in the day, and flat before the close.
    """

    exchange_tz: str = "America/Chicago"
    session_open: str = Field(default="17:00", pattern=r"^[0-2][0-9]:[0-5][0-9]$")
    """The Globex day opens at this local time the evening before."""
    rth_open: str = Field(default="08:30", pattern=r"^[0-2][0-9]:[0-5][0-9]$")
    entries_from: str = Field(default="08:35", pattern=r"^[0-2][0-9]:[0-5][0-9]$")
    """No entries in the first minutes after the open: the opening print is noise."""
    entries_until: str = Field(default="14:30", pattern=r"^[0-2][0-9]:[0-5][0-9]$")
    flat_by: str = Field(default="14:55", pattern=r"^[0-2][0-9]:[0-5][0-9]$")
    """Every position is closed (reason session_end) at the first bar ending at or after this."""


class JournalConfig(_StrategySection):
    heartbeat_bars: int = Field(default=30, ge=1)
    """A repeated skip reason is journaled again only after this many bars."""


class StrategyConfig(_StrategySection):
    """The strategy runtime: which templates run, how, and every threshold they use."""

    enabled: tuple[str, ...] = ("K1", "K2", "K3", "K4", "K5")
    symbols: tuple[str, ...] = ("MES",)
    templates: dict[str, TemplateConfig] = Field(default_factory=_templates)
    signals: SignalConfig = SignalConfig()
    beliefs: BeliefConfig = BeliefConfig()
    euc: EucConfig = EucConfig()
    sizing: SizingConfig = SizingConfig()
    manager: ManagerConfig = ManagerConfig()
    learning: LearningConfig = LearningConfig()
    quality: QualityConfig = QualityConfig()
    journal: JournalConfig = JournalConfig()
    session: SessionConfig = SessionConfig()
    exits_need_approval: bool = False
    """False: the trade manager's exits (which only reduce risk) go out under the audited
    `strategy_exit` exemption, without a token; True: each exit is a normal approval."""

    def template(self, name: str) -> TemplateConfig:
        return self.templates.get(name) or TemplateConfig()
