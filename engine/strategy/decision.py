"""The entry decision: capital tier, day limits, quality gates, EUC against θ, and sizing."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from contracts.market import ContractFacts
from engine.strategy.config import CapitalTier, StrategyConfig
from engine.strategy.templates import EntryPlan, Skip


@dataclass
class DayBook:
    """One session's live trading record for the constitution's day limits.

    A lockout (trade count, daily loss, consecutive losses) ends when the next session starts:
    a day's limit is a day's limit, and nothing else clears or re-imposes it.
    """

    trades: int = 0
    realized: Decimal = Decimal(0)
    consecutive_losses: int = 0
    losses: int = 0

    def record(self, pnl: Decimal) -> None:
        self.realized += pnl
        if pnl < 0:
            self.consecutive_losses += 1
            self.losses += 1
        else:
            self.consecutive_losses = 0


@dataclass(frozen=True)
class Gate:
    """Everything outside the plan that the decision weighs."""

    equity: Decimal
    dvs: float
    eqs: float
    friction: float
    session_minutes: float
    high_volatility: bool
    htf_aligned: bool


@dataclass(frozen=True)
class Decision:
    """An accepted entry: quantity, the risk in dollars and the EUC arithmetic behind it."""

    plan: EntryPlan
    quantity: int
    risk_usd: Decimal
    per_contract_risk: Decimal
    risk_budget: Decimal
    tier: str
    p_win: float
    euc_usd: float
    euc_ratio: float
    theta: float
    modifiers: dict[str, float] = field(default_factory=dict)
    costs_usd: float = 0.0
    friction_usd: float = 0.0

    def arithmetic(self) -> str:
        """The EUC sum in one line, as the evidence panel shows it."""
        p = self.p_win
        plan = self.plan
        per = float(self.per_contract_risk)
        reward = per * plan.target_ticks / plan.stop_ticks
        return (
            f"EUC = {p:.2f} x ${reward:.2f} - {1 - p:.2f} x ${per:.2f}"
            f" - costs ${self.costs_usd:.2f} - friction ${self.friction_usd:.2f}"
            f" = ${self.euc_usd:.2f} per contract"
            f" ({self.euc_ratio:+.3f} R vs theta {self.theta:.3f})"
        )


def tier_for(equity: Decimal, tiers: tuple[CapitalTier, ...]) -> CapitalTier:
    """The highest tier whose minimum equity the account meets (the lowest if none)."""
    ranked = sorted(tiers, key=lambda t: t.min_equity)
    chosen = ranked[0]
    for tier in ranked:
        if equity >= tier.min_equity:
            chosen = tier
    return chosen


def day_limit(config: StrategyConfig, name: str, day: DayBook) -> Skip | None:
    """The session's constitution limits (trades, loss, consecutive losses) or None."""
    sizing = config.sizing
    if day.trades >= sizing.max_trades_per_day:
        return Skip("day_trades", f"{name} skipped: {day.trades} trades already this session")
    if -day.realized >= sizing.daily_loss_limit:
        return Skip("day_loss", f"{name} skipped: daily loss ${-day.realized} reached the limit")
    if day.consecutive_losses >= sizing.max_consecutive_losses:
        return Skip(
            "day_losses",
            f"{name} skipped: {day.consecutive_losses} losses in a row, locked out until the "
            "next session",
        )
    return None


def decide(
    config: StrategyConfig,
    plan: EntryPlan,
    facts: ContractFacts,
    gate: Gate,
    day: DayBook,
    *,
    after_loss_today: bool,
) -> Decision | Skip:
    """Accept (with a size) or skip one planned entry. Checked in the order a trader would."""
    name = plan.setup.template
    sizing = config.sizing
    q = config.quality
    tier = tier_for(gate.equity, sizing.tiers)
    if name not in tier.templates or tier.max_contracts < 1:
        return Skip("tier", f"{name} skipped: capital tier {tier.name} does not allow it")
    limit = day_limit(config, name, day)
    if limit is not None:
        return limit
    if gate.dvs < q.dvs_min_entry:
        return Skip("dvs", f"{name} skipped: data quality DVS {gate.dvs:.2f} < {q.dvs_min_entry}")
    if gate.eqs < q.eqs_min_entry:
        return Skip(
            "eqs", f"{name} skipped: execution quality EQS {gate.eqs:.2f} < {q.eqs_min_entry}"
        )
    if plan.stop_ticks > sizing.max_stop_ticks:
        return Skip("stop_wide", f"{name} skipped: stop {plan.stop_ticks} ticks over the limit")
    tick_value = facts.min_tick * facts.multiplier
    per_contract = tick_value * plan.stop_ticks
    budget = min(
        sizing.max_risk_per_trade,
        gate.equity * sizing.equity_risk_fraction,
        sizing.daily_loss_limit + day.realized,
    )
    quantity = int((budget / per_contract).to_integral_value(ROUND_DOWN)) if per_contract else 0
    quantity = min(quantity, tier.max_contracts)
    if quantity < 1:
        return Skip(
            "size",
            f"{name} skipped: risk budget ${budget:.2f} is less than one contract's "
            f"${per_contract:.2f}",
        )
    euc = config.euc
    knobs = config.template(name)
    p = knobs.prior_win_rate + knobs.belief_weight * (plan.setup.likelihood - 0.5)
    p = min(0.95, max(0.05, p))
    per = float(per_contract)
    reward = per * plan.target_ticks / plan.stop_ticks
    costs = 2 * float(euc.commission_per_side) + euc.slippage_ticks * float(tick_value)
    friction_usd = gate.friction * per
    euc_usd = p * reward - (1 - p) * per - costs - friction_usd
    ratio = euc_usd / per
    modifiers = {}
    if not gate.htf_aligned:
        modifiers["htf_misaligned"] = euc.htf_misaligned
    if gate.high_volatility:
        modifiers["high_volatility"] = euc.high_volatility
    if gate.session_minutes >= euc.late_session_minutes:
        modifiers["late_session"] = euc.late_session
    if gate.dvs < 0.8:
        modifiers["low_dvs"] = euc.low_dvs
    if gate.eqs < 0.8:
        modifiers["low_eqs"] = euc.low_eqs
    if after_loss_today:
        modifiers["after_loss_today"] = euc.after_loss_today
    theta = euc.theta + sum(modifiers.values())
    if ratio < theta:
        return Skip(
            "euc",
            f"{name} skipped: EUC {ratio:+.3f} R below theta {theta:.3f} "
            f"(p {p:.2f}, reward {plan.target_ticks} / risk {plan.stop_ticks} ticks"
            + (f", friction {gate.friction:.0%}" if gate.friction else "")
            + ")",
        )
    return Decision(
        plan=plan,
        quantity=quantity,
        risk_usd=per_contract * quantity,
        per_contract_risk=per_contract,
        risk_budget=budget,
        tier=tier.name,
        p_win=round(p, 4),
        euc_usd=round(euc_usd, 4),
        euc_ratio=round(ratio, 4),
        theta=round(theta, 4),
        modifiers=modifiers,
        costs_usd=round(costs, 4),
        friction_usd=round(friction_usd, 4),
    )
