"""`deskgate paper`: a paper validation session, approved through the token path under a
recorded auto-approve policy, writing PAPER_TRADING_LOG.json and PAPER_TRADING_METRICS.csv.

The session trades market and marketable-limit orders across the symbols (open long, then
close), runs a baseline of the same strategy on the in-process simulated venue beside it (the
"backtest" Sharpe and the reference latency), and ends with a rollback drill that flattens
whatever is open and records how long it took.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from contracts.config import Config, GoLiveConfig
from contracts.enums import AlertLevel, LifecycleState, Mode, OrderType, Regime, Side, TradingState
from contracts.events import (
    AlertRaised,
    AuditedEvent,
    AutoApprovePolicySet,
    CommissionRecorded,
    FillRecorded,
    IntentReceived,
    OrderAcknowledged,
    OrderSubmitting,
    PositionBead,
    RollbackStarted,
)
from contracts.intent import Evidence, Instrument, Intent, OrderParams
from engine.engine import Engine
from engine.intake import Propose
from engine.metrics import delta_pct, percentile, rate_pct, sharpe

POLICY_NAME = "paper-auto-approve/v1"
SOURCE = "paper"
TRADE_NOTIONAL = Decimal(2000)
OPEN_STATES = frozenset(
    {LifecycleState.PROPOSED, LifecycleState.APPROVED, LifecycleState.SUBMITTED,
     LifecycleState.STALLED}
)  # fmt: skip
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([hms])")


def parse_duration(text: str) -> float:
    """'6h', '90m', '45s', '1h30m' -> seconds."""
    text = text.strip().lower()
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        raise ValueError(f"duration {text!r}: use e.g. 6h, 90m, 45s or 1h30m")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0}
    return sum(float(n) * scale[u] for n, u in parts)


def parse_trades(text: str) -> tuple[int, int]:
    """'50-200' -> (50, 200); '20' -> (20, 20)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not m:
        raise ValueError(f"trades {text!r}: use a count (20) or a range (50-200)")
    low = int(m.group(1))
    high = int(m.group(2) or low)
    if low < 1 or high < low:
        raise ValueError(f"trades {text!r}: need 1 <= low <= high")
    return low, high


@dataclass(frozen=True)
class PaperPlan:
    duration_s: float
    trades_min: int
    trades_max: int
    symbols: tuple[str, ...]
    seed: int = 7
    market_share: float = 0.5
    """Share of market orders; the rest are marketable limit orders at the far touch."""

    @property
    def target(self) -> int:
        """Orders this session places (seeded pick within the range)."""
        return random.Random(self.seed).randint(self.trades_min, self.trades_max)


def paper_config(config: Config, plan: PaperPlan) -> tuple[Config, dict[str, str]]:
    """The session's own config: paper mode, no demo, and risk limits that allow its trades.

    The default constitution allows 2 trades a day; a validation session needs its whole
    range. Every changed limit is returned so the policy bead records it.
    """
    if config.mode is Mode.LIVE:
        raise ValueError("a paper session never runs in live mode")
    risk = {
        "max_trades_per_day": plan.trades_max + 10,
        "require_stop": False,
        "duplicate_window_s": 0.0,
        "max_consecutive_losses": plan.trades_max + 10,
        "daily_loss_limit": max(config.risk.daily_loss_limit, Decimal(5000)),
    }
    changed = {
        k: str(v) for k, v in risk.items() if getattr(config.risk, k) != v
    }  # fmt: skip
    data = config.model_dump()
    data["mode"] = Mode.PAPER.value
    data["risk"] = {**data["risk"], **risk}
    data["intake"] = {**data["intake"], "demo": False, "plugins": []}
    return Config.model_validate(data), changed


# --- the strategy ---------------------------------------------------------------------------


@dataclass
class PaperStrategy:
    """Opens long positions and closes them, alternating market and limit orders across the
    symbols, evenly spaced over the session; approves each intent with the token the engine
    issued for it, under the recorded policy."""

    plan: PaperPlan
    risk_overrides: dict[str, str]
    label: str = SOURCE
    placed: int = 0
    filled: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: str = ""

    async def __call__(self, propose: Propose, context: Any) -> None:
        """The StrategyPlugin entry point; `context` is the engine."""
        try:
            await self._run(propose, context)
        finally:
            self.done.set()

    async def _run(self, propose: Propose, engine: Engine) -> None:
        now = engine.clock.now()
        recorded = engine.record_auto_approve_policy(
            AutoApprovePolicySet(
                ts_event=now,
                ts_init=now,
                policy=POLICY_NAME,
                mode=engine.config.mode.value,
                symbols=self.plan.symbols,
                max_trades=self.plan.target,
                risk_overrides=self.risk_overrides,
                reason="paper validation session: every intent approved through its token",
            )
        )
        if not recorded.ok:
            self.error = recorded.message
            return
        rng = random.Random(self.plan.seed)
        loop = asyncio.get_running_loop()
        start = loop.time()
        target = self.plan.target
        interval = self.plan.duration_s / target
        stamp = now.strftime("%Y%m%d%H%M%S")
        for i in range(target):
            if loop.time() - start >= self.plan.duration_s:
                break
            if engine.book.trading_state is TradingState.HALTED:
                self.error = f"trading HALTED by {engine.book.trading_state_actor or '?'}"
                break
            symbol = self.plan.symbols[i % len(self.plan.symbols)]
            intent = await self._intent(engine, f"{self.label}-{stamp}-{i:04d}", symbol, rng)
            if intent is not None:
                result = await propose(intent, self.label)
                if result.accepted:
                    token = engine.pending_token(intent.intent_id) or ""
                    sent = await engine.approve(intent.intent_id, token)
                    if sent.ok:
                        self.placed += 1
                        await _wait_settled(engine, intent.intent_id, min(interval, 10.0))
                        rec = engine.book.records[intent.intent_id]
                        self.filled += rec.entry_filled >= rec.requested
            await asyncio.sleep(max(0.0, start + (i + 1) * interval - loop.time()))

    async def _intent(
        self, engine: Engine, intent_id: str, symbol: str, rng: random.Random
    ) -> Intent | None:
        instrument = Instrument(symbol=symbol)
        quote = await engine.watch_quote(instrument)
        if quote is None or not quote.bid or not quote.ask:
            return None
        pos = engine.book.positions.get(symbol)
        held = pos.quantity if pos else Decimal(0)
        closing = held > 0
        side = Side.SELL if closing else Side.BUY
        market = rng.random() < self.plan.market_share
        price = quote.ask if side is Side.BUY else quote.bid
        qty = held if closing else max(
            Decimal(1), (TRADE_NOTIONAL / price).to_integral_value(ROUND_DOWN)
        )  # fmt: skip
        now = engine.clock.now()
        return Intent(
            intent_id=intent_id,
            strategy="paper-validation",
            order=OrderParams(
                instrument=instrument,
                side=side,
                quantity=qty,
                order_type=OrderType.MARKET if market else OrderType.LIMIT,
                limit_price=None if market else price,
            ),
            state_hash=f"paper-{intent_id}",
            state_ts=now,
            regime=Regime.NORMAL,
            evidence=Evidence(
                setup_quality=50,
                htf_alignment=True,
                ltf_alignment=True,
                notes=f"paper validation: {'close' if closing else 'open'} {symbol}",
            ),
            reduces_risk=closing,
        )


async def _wait_settled(engine: Engine, intent_id: str, within_s: float) -> None:
    """Until the intent's order is filled or finished (or `within_s` seconds pass)."""
    sub = engine.bus.subscribe(maxsize=100)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    try:
        while True:
            rec = engine.book.records.get(intent_id)
            if rec is None or rec.state not in OPEN_STATES:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.get(), remaining)
    finally:
        sub.close()


# --- the log and the metrics (from the audit beads) ---------------------------------------------


@dataclass
class _Trade:
    intent: Intent
    source: str
    t_intent: datetime
    t_submit: datetime | None = None
    t_ack: datetime | None = None
    t_fill: datetime | None = None
    filled: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    status: str = LifecycleState.PROPOSED.value
    exempt: str | None = None


def _ms(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else round((b - a).total_seconds() * 1000.0, 3)


def trade_log(events: Iterable[AuditedEvent]) -> list[dict[str, Any]]:
    """One row per order from the audit beads: ids, order, status, latencies, fill, commission."""
    trades: dict[str, _Trade] = {}
    exec_owner: dict[str, str] = {}
    for e in events:
        if isinstance(e, IntentReceived):
            trades[e.intent.intent_id] = _Trade(e.intent, e.source, e.ts_init)
            continue
        iid = getattr(e, "intent_id", None)
        t = trades.get(iid) if isinstance(iid, str) else None
        if isinstance(e, CommissionRecorded) and e.exec_id in exec_owner:
            trades[exec_owner[e.exec_id]].commission += e.commission
        if t is None:
            continue
        if isinstance(e, OrderSubmitting):
            t.t_submit, t.exempt = e.ts_init, e.exempt
        elif isinstance(e, OrderAcknowledged) and t.t_ack is None:
            t.t_ack = e.ts_init
        elif isinstance(e, FillRecorded) and e.leg.value in ("ENTRY", "FLAT"):
            exec_owner[e.exec_id] = e.intent_id
            t.t_fill = t.t_fill or e.ts_init
            t.filled += e.quantity
            t.notional += e.quantity * e.price
        elif isinstance(e, PositionBead):
            t.status = e.to_state.value
    rows = []
    for iid, t in trades.items():
        o = t.intent.order
        rows.append(
            {
                "intent_id": iid,
                "source": t.source,
                "symbol": o.instrument.symbol,
                "side": o.side.value,
                "quantity": str(o.quantity),
                "type": o.order_type.value,
                "limit_price": None if o.limit_price is None else str(o.limit_price),
                "status": t.status,
                "filled_quantity": str(t.filled),
                "latency_ms": {
                    "intent_to_submit": _ms(t.t_intent, t.t_submit),
                    "submit_to_ack": _ms(t.t_submit, t.t_ack),
                    "ack_to_fill": _ms(t.t_ack, t.t_fill),
                    "total": _ms(t.t_intent, t.t_fill),
                },
                "fill_price": str((t.notional / t.filled).quantize(Decimal("0.0001")))
                if t.filled
                else None,
                "commission": str(t.commission),
                "submitted": t.t_submit is not None,
                "exempt": t.exempt,
            }
        )
    return rows


def round_trip_returns(log: Sequence[dict[str, Any]]) -> list[float]:
    """Net return of each closed long round trip (open buy, then sell), commissions included."""
    opened: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    out: list[float] = []
    for row in log:
        if row["fill_price"] is None:
            continue
        sym, qty = row["symbol"], Decimal(row["filled_quantity"])
        px, fee = Decimal(row["fill_price"]), Decimal(row["commission"])
        if row["side"] == Side.BUY.value:
            q0, cost0, fee0 = opened.get(sym, (Decimal(0), Decimal(0), Decimal(0)))
            opened[sym] = (q0 + qty, cost0 + qty * px, fee0 + fee)
        elif sym in opened:
            q0, cost0, fee0 = opened.pop(sym)
            if q0 and cost0:
                pnl = qty * px - cost0 * qty / q0 - fee - fee0
                out.append(float(pnl / (cost0 * qty / q0)))
    return out


@dataclass(frozen=True)
class MetricRow:
    metric: str
    value: str
    unit: str
    status: str
    """PASS / FAIL against the go-live thresholds, INFO for context, PENDING when n/a."""


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _lat(rows: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [r["latency_ms"][key] for r in rows if r["latency_ms"][key] is not None]


def compute_metrics(
    log: Sequence[dict[str, Any]],
    baseline: Sequence[dict[str, Any]] | None,
    duration_s: float,
    pacing_violations: int,
    disconnects: int,
    cfg: GoLiveConfig,
) -> list[MetricRow]:
    """PAPER_TRADING_METRICS.csv rows from the session's (and the baseline's) trade logs."""
    ours = [r for r in log if r["source"] == SOURCE and r["submitted"]]
    filled = sum(Decimal(r["filled_quantity"]) >= Decimal(r["quantity"]) for r in ours)
    fill_rate = rate_pct(filled, len(ours))
    total = _lat(ours, "total")
    p50, p95, p99 = (percentile(total, q) for q in (50, 95, 99))
    sharpe_paper = sharpe(round_trip_returns(log))
    base = [r for r in baseline or [] if r["source"] == SOURCE and r["submitted"]]
    sharpe_bt = sharpe(round_trip_returns(baseline)) if baseline is not None else None
    sim_p50 = percentile(_lat(base, "total"), 50)
    lat_delta = delta_pct(p50, sim_p50) if p50 is not None and sim_p50 is not None else None
    sharpe_delta = (
        None if sharpe_paper is None or sharpe_bt is None else sharpe_paper - sharpe_bt
    )  # fmt: skip

    def verdict(ok: bool | None) -> str:
        return "PENDING" if ok is None else ("PASS" if ok else "FAIL")

    sharpe_ok = (
        None
        if sharpe_paper is None or sharpe_bt is None
        else sharpe_bt > 0 and sharpe_paper >= cfg.min_sharpe_vs_backtest * sharpe_bt
    )
    rows = [
        MetricRow("duration", f"{duration_s:.1f}", "s", "INFO"),
        MetricRow("trades", str(len(ours)), "orders", verdict(len(ours) > 0)),
        MetricRow("round_trips", str(len(round_trip_returns(log))), "count", "INFO"),
        MetricRow(
            "fill_rate", _num(fill_rate, 2), "%",
            verdict(None if fill_rate is None else fill_rate > cfg.min_fill_rate_pct),
        ),
        MetricRow("latency_p50", _num(p50), "ms", "INFO"),
        MetricRow("latency_p95", _num(p95), "ms", "INFO"),
        MetricRow("latency_p99", _num(p99), "ms", "INFO"),
        MetricRow("latency_intent_to_submit_p50",
                  _num(percentile(_lat(ours, "intent_to_submit"), 50)), "ms", "INFO"),
        MetricRow("latency_submit_to_ack_p50",
                  _num(percentile(_lat(ours, "submit_to_ack"), 50)), "ms", "INFO"),
        MetricRow("latency_ack_to_fill_p50",
                  _num(percentile(_lat(ours, "ack_to_fill"), 50)), "ms", "INFO"),
        MetricRow(
            "pacing_violations", str(pacing_violations), "count",
            verdict(pacing_violations <= cfg.max_pacing_violations),
        ),
        MetricRow("disconnects", str(disconnects), "count", "INFO"),
        MetricRow("sharpe_paper", _num(sharpe_paper, 4), "per trade", "INFO"),
        MetricRow("sharpe_backtest", _num(sharpe_bt, 4), "per trade", "INFO"),
        MetricRow("sharpe_delta", _num(sharpe_delta, 4), "per trade", verdict(sharpe_ok)),
        MetricRow("latency_sim_p50", _num(sim_p50), "ms", "INFO"),
        MetricRow(
            "latency_delta", _num(lat_delta, 1), "%",
            verdict(None if lat_delta is None else lat_delta < cfg.max_latency_delta_pct),
        ),
    ]  # fmt: skip
    return rows


def alert_counts(events: Iterable[AuditedEvent]) -> tuple[int, int, int]:
    """(pacing violations, disconnects, automatic rollbacks) from the session's beads."""
    pacing = disconnects = auto = 0
    for e in events:
        auto += isinstance(e, RollbackStarted) and e.automatic
        if isinstance(e, AlertRaised):
            pacing += e.code == "PACING"
            disconnects += e.code == "DISCONNECTED" or (
                e.code == "CONNECTIVITY" and e.level is AlertLevel.CRITICAL
            )
    return pacing, disconnects, auto


def write_metrics(path: Path, rows: Sequence[MetricRow]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["metric", "value", "unit", "status"])
        for r in rows:
            w.writerow([r.metric, r.value, r.unit, r.status])


# --- the session ----------------------------------------------------------------------------


def progress_line(elapsed: float, total: float, placed: int, target: int, filled: int) -> str:
    frac = min(1.0, elapsed / total) if total > 0 else 1.0
    width = 30
    bar = "#" * int(frac * width) + "-" * (width - int(frac * width))

    def clock(s: float) -> str:
        s = int(s)
        return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"

    return (
        f"[{bar}] {frac * 100:5.1f}% {clock(elapsed)}/{clock(total)} "
        f"orders {placed}/{target} filled {filled}"
    )


@dataclass
class PaperResult:
    log_path: Path
    metrics_path: Path
    metrics: list[MetricRow]
    incident: Path | None
    rollback_ok: bool | None
    data_dir: Path


async def run_paper(
    config: Config,
    plan: PaperPlan,
    out_dir: Path,
    *,
    baseline: bool = True,
    rollback_at_end: bool = True,
    progress: Callable[[str], None] | None = None,
) -> PaperResult:
    """Run the session (and its simulated-venue baseline), then write the log and metrics."""
    from console.compose import build_session
    from engine.rollback import rollback_and_report

    pconfig, overrides = paper_config(config, plan)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    data_dir = config.resolved_data_dir() / "paper" / stamp
    strategy = PaperStrategy(plan, overrides)
    sessions = [build_session(pconfig, data_dir=data_dir, demo=False, sources=[strategy])]
    base_strategy: PaperStrategy | None = None
    if baseline:
        sim = pconfig.model_copy(
            update={"broker": pconfig.broker.model_copy(update={"kind": "sim", "port": 0})}
        )
        base_strategy = PaperStrategy(plan, overrides)
        sessions.append(
            build_session(sim, data_dir=data_dir / "baseline", demo=False, sources=[base_strategy])
        )
    loop = asyncio.get_running_loop()
    incident: Path | None = None
    rollback_ok: bool | None = None
    try:
        for s in sessions:
            await s.start_venue()
            await s.engine.start()
        started = loop.time()
        waiting = [strategy.done.wait()]
        if base_strategy is not None:
            waiting.append(base_strategy.done.wait())
        all_done = asyncio.ensure_future(asyncio.gather(*waiting))
        target = plan.target
        while not all_done.done():
            elapsed = loop.time() - started
            if progress:
                progress(progress_line(elapsed, plan.duration_s, strategy.placed, target,
                                       strategy.filled))  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(all_done), 1.0)
            if elapsed > plan.duration_s + 60:
                all_done.cancel()
                break
        duration = loop.time() - started
        if progress:
            progress(progress_line(duration, plan.duration_s, strategy.placed, target,
                                   strategy.filled) + "\n")  # fmt: skip
        engine = sessions[0].engine
        if rollback_at_end:
            result, incident = await rollback_and_report(
                engine, "paper session end: rollback drill", "paper", out_dir
            )
            rollback_ok = result.ok
        logs = []
        for s in sessions:
            s.engine.store.flush()
            logs.append(list(s.engine.store.events()))
        log = trade_log(logs[0])
        base_log = trade_log(logs[1]) if baseline else None
        pacing, disconnects, auto = alert_counts(logs[0])
        metrics = compute_metrics(log, base_log, duration, pacing, disconnects, config.golive)
        metrics.insert(
            2, MetricRow("automatic_rollbacks", str(auto), "count", "FAIL" if auto else "PASS")
        )
    finally:
        for s in sessions:
            await s.close()
    log_path, metrics_path = _write_outputs(
        out_dir, plan, pconfig, overrides, data_dir, strategy.error, log, metrics
    )
    return PaperResult(log_path, metrics_path, metrics, incident, rollback_ok, data_dir)


def _write_outputs(
    out_dir: Path,
    plan: PaperPlan,
    pconfig: Config,
    overrides: dict[str, str],
    data_dir: Path,
    error: str,
    log: list[dict[str, Any]],
    metrics: list[MetricRow],
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "PAPER_TRADING_LOG.json"
    meta = {
        "generated_at": datetime.now(UTC).isoformat(),
        "policy": POLICY_NAME,
        "risk_overrides": overrides,
        "plan": {
            "duration_s": plan.duration_s,
            "trades": [plan.trades_min, plan.trades_max],
            "target": plan.target,
            "symbols": list(plan.symbols),
            "seed": plan.seed,
        },
        "broker": f"{pconfig.broker.kind}:{pconfig.broker.port or 'embedded'}",
        "audit_dir": str(data_dir),
        "error": error,
        "trades": log,
    }
    log_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    metrics_path = out_dir / "PAPER_TRADING_METRICS.csv"
    write_metrics(metrics_path, metrics)
    return log_path, metrics_path
