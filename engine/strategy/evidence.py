"""Turns an accepted decision into an Intent whose evidence lets the trader redo the judgement."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from contracts.enums import OrderType, Regime, Side
from contracts.intent import (
    CheckResult,
    Evidence,
    Instrument,
    Intent,
    OrderParams,
    PositionSizing,
    canonical_hash,
)
from contracts.market import ContractFacts
from engine.strategy.beliefs import Belief
from engine.strategy.config import StrategyConfig
from engine.strategy.decision import Decision
from engine.strategy.signals import Signals
from engine.strategy.templates import TEMPLATE_CLASSES

MAX_NOTES = 2000


def side_of(sign: int) -> Side:
    return Side.BUY if sign > 0 else Side.SELL


def to_price(value: float, tick: Decimal) -> Decimal:
    """A float price as a Decimal on the tick grid."""
    return ((Decimal(repr(value)) / tick).to_integral_value() * tick).quantize(tick)


def instrument_of(facts: ContractFacts) -> Instrument:
    return Instrument(
        symbol=facts.symbol,
        sec_type=facts.sec_type,
        exchange=facts.exchange,
        currency=facts.currency,
        tick_size=facts.min_tick,
        multiplier=facts.multiplier,
        con_id=facts.con_id,
        expiry=facts.expiry.strftime("%Y%m%d") if facts.expiry else "",
        trading_class=facts.trading_class,
    )


def setup_quality(decision: Decision, signals: Signals, dvs: float, eqs: float) -> dict[str, float]:
    """Setup quality out of 100: likelihood 40, alignment 20 (HTF 12, LTF 8), EUC margin 20,
    data and execution quality 10 each."""
    side = decision.plan.side
    margin = max(0.0, min(1.0, (decision.euc_ratio - decision.theta) / 0.5))
    return {
        "likelihood": round(40 * decision.plan.setup.likelihood, 2),
        "htf_alignment": 12.0 if signals.htf_trend == side else 0.0,
        "ltf_alignment": 8.0 if signals.ltf_trend == side else 0.0,
        "euc_margin": round(20 * margin, 2),
        "dvs": round(10 * dvs, 2),
        "eqs": round(10 * eqs, 2),
    }


def build_intent(
    config: StrategyConfig,
    decision: Decision,
    facts: ContractFacts,
    signals: Signals,
    beliefs: dict[str, Belief],
    *,
    intent_id: str,
    state_ts: datetime,
    equity: Decimal,
    dvs: float,
    eqs: float,
    dvs_parts: dict[str, float],
) -> Intent:
    """The intent for a LIVE strategy's entry: a limit at the plan's entry with a bracket."""
    plan = decision.plan
    setup = plan.setup
    tick = facts.min_tick
    side = side_of(plan.side)
    breakdown = setup_quality(decision, signals, dvs, eqs)
    quality = round(sum(breakdown.values()), 2)
    used = {name: beliefs[name] for name in setup.beliefs if name in beliefs}
    for name, belief in used.items():
        breakdown[f"{name}_likelihood"] = round(belief.likelihood, 4)
    for name, value in setup.signals.items():
        breakdown[f"signal.{name}"] = value
    for name, value in dvs_parts.items():
        breakdown[f"dvs.{name}"] = round(value, 4)
    breakdown["euc_ratio"] = decision.euc_ratio
    breakdown["theta"] = decision.theta
    for name, value in decision.modifiers.items():
        breakdown[f"theta.{name}"] = value
    sizing = config.sizing
    risk_parameters = {
        "stop_ticks": Decimal(plan.stop_ticks),
        "target_ticks": Decimal(plan.target_ticks),
        "reward_risk": Decimal(plan.target_ticks) / Decimal(plan.stop_ticks),
        "risk_usd": decision.risk_usd,
        "per_contract_risk_usd": decision.per_contract_risk,
        "p_win": Decimal(repr(decision.p_win)),
        "euc_usd": Decimal(repr(decision.euc_usd)),
        "costs_usd": Decimal(repr(decision.costs_usd)),
        "friction_usd": Decimal(repr(decision.friction_usd)),
        "tick_value_usd": tick * facts.multiplier,
    }
    checks = (
        CheckResult(name="DVS", passed=True, detail=f"{dvs:.2f} >= {config.quality.dvs_min_entry}"),
        CheckResult(name="EQS", passed=True, detail=f"{eqs:.2f} >= {config.quality.eqs_min_entry}"),
        CheckResult(
            name="risk per trade",
            passed=decision.risk_usd <= sizing.max_risk_per_trade,
            detail=f"${decision.risk_usd} <= ${sizing.max_risk_per_trade}",
        ),
        CheckResult(
            name="stop ticks",
            passed=plan.stop_ticks <= sizing.max_stop_ticks,
            detail=f"{plan.stop_ticks} <= {sizing.max_stop_ticks}",
        ),
        CheckResult(name="capital tier", passed=True, detail=decision.tier),
        CheckResult(
            name="EUC", passed=True, detail=f"{decision.euc_ratio:+.3f} R >= {decision.theta:.3f}"
        ),
    )
    title = TEMPLATE_CLASSES[setup.template].title
    via = f" via {setup.via}" if setup.via else ""
    beliefs_text = "; ".join(b.describe() for b in used.values())
    notes = (
        f"{setup.template} {title}{via}: {setup.reason}. Beliefs: {beliefs_text}. "
        f"{decision.arithmetic()}."
    )[:MAX_NOTES]
    state = {"ts": state_ts.isoformat(), "signals": signals.finite(), "template": setup.template}
    return Intent(
        intent_id=intent_id,
        strategy=setup.template,
        order=OrderParams(
            instrument=instrument_of(facts),
            side=side,
            quantity=Decimal(decision.quantity),
            order_type=OrderType.LIMIT,
            limit_price=to_price(plan.entry, tick),
            stop_loss=to_price(plan.stop, tick),
            take_profit=to_price(plan.target, tick),
        ),
        state_hash=canonical_hash(state)[:64],
        state_ts=state_ts,
        regime=Regime.HIGH_VOLATILITY if signals.vol_regime >= 1.5 else Regime.NORMAL,
        evidence=Evidence(
            setup_quality=min(100.0, quality),
            quality_breakdown=breakdown,
            htf_alignment=signals.htf_trend == plan.side,
            ltf_alignment=signals.ltf_trend == plan.side,
            risk_parameters=risk_parameters,
            red_checks=checks,
            sizing=PositionSizing(
                account_equity=equity,
                risk_fraction=sizing.equity_risk_fraction,
                risk_budget=decision.risk_budget,
                per_share_risk=decision.per_contract_risk,
                computed_quantity=Decimal(decision.quantity),
                formula=f"floor(min(${sizing.max_risk_per_trade}, equity x fraction, daily loss "
                "room) / (stop ticks x tick x multiplier)), capped by the capital tier",
            ),
            notes=notes,
        ),
    )
