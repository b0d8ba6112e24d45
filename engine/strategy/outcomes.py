"""Closed-trade records with attribution, and shadow sessions summed for promotion evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from contracts.market import ContractFacts
from engine.metrics import sharpe
from engine.promotion import SessionRecord
from engine.strategy.decision import DayBook
from engine.strategy.evidence import side_of, to_price
from engine.strategy.learning import attribute
from engine.strategy.manager import Position
from engine.strategy.records import EXIT_REASONS, ShadowSessionRecord, TradeRecord

CENT = Decimal("0.01")


def trade_record(
    pos: Position,
    price: float,
    ts: datetime,
    reason: str,
    facts: ContractFacts,
    commission_per_side: Decimal,
) -> TradeRecord:
    """The record of a closed position: net P&L in Decimal, R multiple, A0–A9."""
    assert pos.entry_ts is not None
    if reason not in EXIT_REASONS:
        raise ValueError(f"exit reason {reason!r} is not one of {', '.join(EXIT_REASONS)}")
    tick = facts.min_tick
    mult = facts.multiplier
    qty = Decimal(pos.quantity)
    entry = to_price(pos.entry, tick)
    fill = to_price(price, tick)
    gross = (fill - entry) * pos.side * qty * mult
    commission = 2 * commission_per_side * qty
    pnl = (gross - commission).quantize(CENT)
    planned = {"stop": pos.stop, "target": pos.target}.get(reason, price)
    slippage = abs(fill - to_price(planned, tick)) * qty * mult
    risk = pos.risk_usd if pos.risk_usd > 0 else Decimal(1)
    return TradeRecord(
        trade_id=pos.trade_id,
        strategy=pos.strategy,
        via=pos.setup.via,
        mode=pos.mode,
        symbol=pos.symbol,
        side=side_of(pos.side).value,
        quantity=pos.quantity,
        entry_time=pos.entry_ts,
        exit_time=ts,
        entry_price=entry,
        exit_price=fill,
        stop_price=to_price(pos.initial_stop, tick),
        target_price=to_price(pos.target, tick),
        stop_ticks=pos.stop_ticks,
        risk_usd=pos.risk_usd,
        pnl_usd=pnl,
        r_multiple=round(float(pnl / risk), 4),
        exit_reason=reason,
        attribution=attribute(
            exit_reason=reason,
            pnl_usd=pnl,
            risk_usd=pos.risk_usd,
            mfe_r=pos.mfe_r,
            slippage_usd=slippage,
            scratch_usd=commission + tick * mult,
        ),
        mfe_r=round(pos.mfe_r, 4),
        mae_r=round(pos.mae_r, 4),
        bars_held=pos.bars_held,
    )


@dataclass
class ShadowDay:
    """One strategy's shadow session so far."""

    decisions: int = 0
    pnl: Decimal = Decimal(0)
    peak: Decimal = Decimal(0)
    max_drawdown: Decimal = Decimal(0)
    trade_pnls: list[float] = field(default_factory=list)
    kills: int = 0
    book: DayBook = field(default_factory=DayBook)

    def record(self, pnl: Decimal) -> None:
        self.book.record(pnl)
        self.pnl += pnl
        self.trade_pnls.append(float(pnl))
        self.peak = max(self.peak, self.pnl)
        self.max_drawdown = max(self.max_drawdown, self.peak - self.pnl)


def shadow_session_records(
    days: dict[str, ShadowDay], day: date, regime: str, equity: Decimal
) -> list[ShadowSessionRecord]:
    """One record per strategy that decided in shadow this session (drawdown as % of equity)."""
    base = equity if equity > 0 else Decimal(1)
    return [
        ShadowSessionRecord(
            strategy=name,
            day=day,
            regime="trend" if regime == "trend" else "range",
            pnl=sd.pnl,
            max_drawdown_pct=(sd.max_drawdown / base * 100).quantize(Decimal("0.0001")),
            sharpe=sharpe(sd.trade_pnls),
            would_have_killed=sd.kills,
            decisions=sd.decisions,
        )
        for name, sd in sorted(days.items())
        if sd.decisions
    ]


def promotion_sessions(records: list[ShadowSessionRecord], strategy: str) -> list[SessionRecord]:
    """A strategy's recorded shadow sessions as the promotion evidence (engine.promotion)."""
    return [
        SessionRecord(
            day=r.day,
            regime=r.regime,
            pnl=r.pnl,
            max_drawdown_pct=r.max_drawdown_pct,
            sharpe=r.sharpe,
            would_have_killed=r.would_have_killed,
            decisions=r.decisions,
            overrides=r.overrides,
        )
        for r in records
        if r.strategy == strategy
    ]
