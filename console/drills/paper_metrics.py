"""A paper session's trade log and metrics, read back from its audit beads."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts.config import GoLiveConfig
from contracts.enums import AlertLevel, LifecycleState, Side
from contracts.events import (
    AlertRaised,
    AuditedEvent,
    CommissionRecorded,
    FillRecorded,
    IntentReceived,
    OrderAcknowledged,
    OrderSubmitting,
    PositionBead,
    RollbackStarted,
)
from contracts.intent import Intent
from engine.metrics import delta_pct, percentile, rate_pct, sharpe

SOURCE = "paper"
"""The intake source name of the paper strategy's intents."""


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
    *,
    backtest_sharpe: float | None = None,
) -> list[MetricRow]:
    """PAPER_TRADING_METRICS.csv rows from the session's (and the baseline's) trade logs.

    `sharpe_backtest` is `backtest_sharpe`: the newest BACKTEST_SUMMARY.json's, which gate 7
    judges paper against (the baseline run of the drill's own strategy gives only the latency
    reference; its Sharpe is `sharpe_sim_baseline`, for information)."""
    ours = [r for r in log if r["source"] == SOURCE and r["submitted"]]
    filled = sum(Decimal(r["filled_quantity"]) >= Decimal(r["quantity"]) for r in ours)
    fill_rate = rate_pct(filled, len(ours))
    total = _lat(ours, "total")
    p50, p95, p99 = (percentile(total, q) for q in (50, 95, 99))
    sharpe_paper = sharpe(round_trip_returns(log))
    base = [r for r in baseline or [] if r["source"] == SOURCE and r["submitted"]]
    sharpe_sim = sharpe(round_trip_returns(baseline)) if baseline is not None else None
    sharpe_bt = backtest_sharpe
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
        MetricRow("sharpe_sim_baseline", _num(sharpe_sim, 4), "per trade", "INFO"),
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
