"""The backtest: the whole runtime over sessions of bars, headless, with virtual fills and files."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from contracts.broker import Quote
from contracts.config import RiskConfig, StaleConfig
from contracts.enums import TradingState
from contracts.market import Bar, ContractFacts
from contracts.strategy import StrategyConfig
from engine.instruments import Resolution
from engine.metrics import sharpe
from engine.risk import RiskContext, pre_trade_checks
from engine.strategy.bars import Aggregator, BarView, view_of
from engine.strategy.evidence import to_price
from engine.strategy.journal import journal_line
from engine.strategy.manager import (
    Action,
    CancelEntry,
    ProposeEntry,
    RequestExit,
    RequestKill,
    RequestModify,
)
from engine.strategy.records import (
    DecisionRecord,
    LearningRecord,
    ShadowSessionRecord,
    TradeRecord,
)
from engine.strategy.runtime import StrategyRuntime
from engine.strategy.venue import VirtualVenue

TRADES_FILE = "BACKTEST_TRADES.csv"
SUMMARY_FILE = "BACKTEST_SUMMARY.json"
JOURNAL_FILE = "DECISION_JOURNAL.md"
TRADE_COLUMNS = (
    "trade_id",
    "template",
    "via",
    "mode",
    "symbol",
    "side",
    "quantity",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "stop_price",
    "target_price",
    "stop_ticks",
    "risk_usd",
    "pnl_usd",
    "r_multiple",
    "exit_reason",
    "attribution",
    "mfe_r",
    "mae_r",
    "bars_held",
)


@dataclass
class BacktestResult:
    """Everything the runtime recorded, in order."""

    trades: list[TradeRecord] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    learning: list[LearningRecord] = field(default_factory=list)
    shadow_sessions: list[ShadowSessionRecord] = field(default_factory=list)
    sessions: list[date] = field(default_factory=list)
    bars: int = 0
    kills: int = 0
    denials: list[str] = field(default_factory=list)
    """The engine's pre-trade refusals of backtest entries (first failed check of each)."""
    point_values: dict[str, Decimal] = field(default_factory=dict)
    """Each symbol's multiplier ($ per point), for the trades' notional."""

    def sink(self, record: object) -> None:
        if isinstance(record, TradeRecord):
            self.trades.append(record)
        elif isinstance(record, DecisionRecord):
            self.decisions.append(record)
        elif isinstance(record, LearningRecord):
            self.learning.append(record)
        elif isinstance(record, ShadowSessionRecord):
            self.shadow_sessions.append(record)

    @property
    def live_trades(self) -> list[TradeRecord]:
        return [t for t in self.trades if t.mode == "live"]


def one_minute_bars(bars: Iterable[Bar]) -> list[BarView]:
    """Bars as 1-minute views: 1-minute bars pass through, shorter ones are aggregated."""
    out: list[BarView] = []
    rollers: dict[str, Aggregator] = {}
    for bar in bars:
        view = view_of(bar)
        if bar.seconds == 60:
            out.append(view)
            continue
        roller = rollers.setdefault(bar.symbol, Aggregator(60))
        out.extend(roller.add(view))
    for roller in rollers.values():
        tail = roller.flush()
        if tail is not None:
            out.append(tail)
    return out


def engine_denials(
    runtime: StrategyRuntime,
    action: ProposeEntry,
    bar: BarView,
    risk: RiskConfig,
    facts: ContractFacts,
) -> tuple[str, ...]:
    """The engine's own pre-trade checks (engine.risk) on a backtest entry, as at proposal:
    the contract's facts, a quote at the bar's close one tick wide, flat, nothing working, the
    runtime's day book."""
    intent = action.intent
    tick = facts.min_tick
    close = to_price(bar.close, tick)
    day = runtime.day
    ctx = RiskContext(
        now=bar.end,
        quote=Quote(symbol=bar.symbol, bid=close, ask=close + tick, last=close, ts=bar.end),
        instrument=Resolution(facts),
        position=Decimal(0),
        working_same_side=Decimal(0),
        trades_today=day.trades,
        realized_pnl_today=day.realized,
        consecutive_losses=day.consecutive_losses,
        trading_state=TradingState.HALTED if runtime.halted else TradingState.ACTIVE,
        kill_flags=(),
        connected=True,
        recent_identical_s=None,
    )
    checks = pre_trade_checks(intent, ctx, risk, StaleConfig())
    return tuple(f"{c.reason}: {c.detail}" for c in checks if not c.passed)


def run_backtest(
    config: StrategyConfig,
    sessions: Iterable[tuple[date, Sequence[BarView]]],
    facts: Mapping[str, ContractFacts],
    *,
    equity: Decimal,
    risk: RiskConfig | None = None,
) -> BacktestResult:
    """Run every session through the runtime. Each entry passes the engine's pre-trade checks
    (`risk`, default the constitution's RiskConfig) and is then taken as approved at once (the
    backtest measures the strategies, not the trader); fills follow `venue.VirtualVenue`."""
    result = BacktestResult(point_values={s: f.multiplier for s, f in facts.items()})
    checks = risk or RiskConfig()
    runtime = StrategyRuntime(config, facts, result.sink, equity=equity, run_id="bt")
    venues = {
        symbol: VirtualVenue(float(facts[symbol].min_tick), config.euc.slippage_ticks)
        for symbol in config.symbols
    }
    for day, bars in sessions:
        result.sessions.append(day)
        runtime.new_session(day)
        last: dict[str, BarView] = {}
        for bar in bars:
            venue = venues.get(bar.symbol)
            if venue is None:
                continue
            result.bars += 1
            for event in venue.on_bar(bar):
                runtime.apply_venue_event(event)
            actions = runtime.on_bar(bar, now=bar.end)
            for action in actions:
                if isinstance(action, ProposeEntry):
                    denied = engine_denials(runtime, action, bar, checks, facts[bar.symbol])
                    if denied:
                        result.denials.append(denied[0])
                        runtime.on_entry_cancelled(
                            action.intent.intent_id, "engine refused: " + "; ".join(denied), bar.end
                        )
            _apply(
                [
                    a
                    for a in actions
                    if not isinstance(a, ProposeEntry) or a.intent.intent_id in runtime.positions
                ],
                venues,
                result,
            )
            last[bar.symbol] = bar
        if not last:
            continue
        _apply(runtime.end_session(max(b.end for b in last.values())), venues, result)
        for symbol, bar in sorted(last.items()):
            for event in venues[symbol].close_all(bar.close, bar.end, "session_end"):
                runtime.apply_venue_event(event)
    return result


def _apply(
    actions: list[Action], venues: Mapping[str, VirtualVenue], result: BacktestResult
) -> None:
    for action in actions:
        if isinstance(action, ProposeEntry):
            order = action.intent.order
            plan = action.decision.plan
            venues[order.instrument.symbol].place_entry(
                action.intent.intent_id, plan.side, plan.entry, plan.stop, plan.target
            )
        elif isinstance(action, RequestExit):
            venues[action.symbol].request_exit(action.intent_id, action.reason)
        elif isinstance(action, RequestModify):
            for venue in venues.values():
                venue.modify(action.intent_id, float(action.stop_price))
        elif isinstance(action, CancelEntry):
            for venue in venues.values():
                venue.cancel_entry(action.intent_id)
        elif isinstance(action, RequestKill):
            result.kills += 1


def _by_template(trades: Sequence[TradeRecord]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name in sorted({t.strategy for t in trades}):
        mine = [t for t in trades if t.strategy == name]
        pnl = sum((t.pnl_usd for t in mine), Decimal(0))
        wins = sum(t.pnl_usd > 0 for t in mine)
        out[name] = {
            "trades": len(mine),
            "wins": wins,
            "win_rate": round(wins / len(mine), 4),
            "expectancy_usd": str((pnl / len(mine)).quantize(Decimal("0.01"))),
            "pnl_usd": str(pnl),
            "exit_reasons": dict(sorted(Counter(t.exit_reason for t in mine).items())),
        }
    return out


SHARPE_BASIS = (
    "sharpe: mean/stdev of daily net P&L, per session, not annualised; "
    "sharpe_backtest: mean/stdev of each live trade's net return on its entry notional, "
    "per trade, not annualised (the basis of the paper drill's sharpe_paper, which gate 7 "
    "compares against it)"
)
"""How the summary's Sharpe ratios are computed. Neither is annualised: a per-trade ratio has
no fixed number of periods a year, and gate 7 compares paper and backtest on the same basis."""


def trade_returns(
    trades: Sequence[TradeRecord], point_values: Mapping[str, Decimal]
) -> list[float]:
    """Each trade's net P&L over its entry notional (price x quantity x multiplier)."""
    out = []
    for t in trades:
        notional = t.entry_price * t.quantity * point_values.get(t.symbol, Decimal(1))
        if notional > 0:
            out.append(float(t.pnl_usd / notional))
    return out


def summary(result: BacktestResult, meta: Mapping[str, object]) -> dict[str, object]:
    """The summary document: figures only, no wall-clock time (same seed, same bytes)."""
    live = result.live_trades
    shadow = [t for t in result.trades if t.mode == "shadow"]
    daily = {day: Decimal(0) for day in result.sessions}
    for t in live:
        day = t.exit_time.date()
        daily[day] = daily.get(day, Decimal(0)) + t.pnl_usd
    ratio = sharpe([float(v) for v in daily.values()])
    per_trade = sharpe(trade_returns(live, result.point_values))
    return {
        **meta,
        "sessions": len(result.sessions),
        "bars": result.bars,
        "trades": len(live),
        "shadow_trades": len(shadow),
        "pnl_usd": str(sum((t.pnl_usd for t in live), Decimal(0))),
        "max_risk_usd": str(max((t.risk_usd for t in result.trades), default=Decimal(0))),
        "sharpe": None if ratio is None else round(ratio, 6),
        "sharpe_backtest": None if per_trade is None else round(per_trade, 6),
        "sharpe_basis": SHARPE_BASIS,
        "by_template": _by_template(live),
        "shadow_by_template": _by_template(shadow),
        "exit_reasons": dict(sorted(Counter(t.exit_reason for t in result.trades).items())),
        "attribution": dict(sorted(Counter(t.attribution for t in result.trades).items())),
        "kills": result.kills,
        "engine_denials": dict(sorted(Counter(d.split(":")[0] for d in result.denials).items())),
        "decisions_journaled": len(result.decisions),
        "learning_events": [r.model_dump(mode="json", exclude={"kind"}) for r in result.learning],
        "shadow_sessions": [
            r.model_dump(mode="json", exclude={"kind"}) for r in result.shadow_sessions
        ],
    }


def trades_csv(trades: Sequence[TradeRecord]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TRADE_COLUMNS)
    for t in trades:
        row = t.model_dump(mode="json")
        row["template"] = row.pop("strategy")
        writer.writerow([row[c] for c in TRADE_COLUMNS])
    return buf.getvalue()


def journal_markdown(result: BacktestResult) -> str:
    lines = ["# Decision journal", ""]
    day = None
    for record in result.decisions:
        if record.ts.date() != day:
            day = record.ts.date()
            lines += ["", f"## {day.isoformat()}", ""]
        lines.append(f"- {journal_line(record)}")
    return "\n".join(lines) + "\n"


def write_outputs(result: BacktestResult, out_dir: Path, meta: Mapping[str, object]) -> list[Path]:
    """Write the three files; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        TRADES_FILE: trades_csv(result.trades),
        SUMMARY_FILE: json.dumps(summary(result, meta), indent=2, sort_keys=True) + "\n",
        JOURNAL_FILE: journal_markdown(result),
    }
    paths = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
