"""`deskgate paper`: a paper validation session, approved through the token path under a
recorded auto-approve policy, writing PAPER_TRADING_LOG.json and PAPER_TRADING_METRICS.csv.

The session trades market and marketable-limit orders across the symbols (open long, then
close), runs a baseline of the same strategy on the in-process simulated venue beside it (the
reference latency), takes the backtest Sharpe from the newest BACKTEST_SUMMARY.json (`deskgate
backtest`), and ends with a rollback drill that flattens whatever is open and records how long
it took.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from console.drills.paper_metrics import (
    SOURCE,
    MetricRow,
    alert_counts,
    compute_metrics,
    trade_log,
    write_metrics,
)
from contracts.config import Config
from contracts.enums import LifecycleState, Mode, OrderType, Regime, Side, TradingState
from contracts.events import (
    AutoApprovePolicySet,
)
from contracts.intent import Evidence, Instrument, Intent, OrderParams
from engine.engine import Engine
from engine.golive_evidence import newest_backtest
from engine.intake import Propose

POLICY_NAME = "paper-auto-approve/v1"
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
        recorded = engine.golive.record_auto_approve_policy(
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


# --- the session ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperProgress:
    """Where a running session stands (the command line draws it as a rich progress bar)."""

    elapsed_s: float
    duration_s: float
    placed: int
    target: int
    filled: int
    finished: bool = False


@dataclass
class PaperResult:
    log_path: Path
    metrics_path: Path
    metrics: list[MetricRow]
    session_id: str
    start_time: datetime
    end_time: datetime
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
    progress: Callable[[PaperProgress], None] | None = None,
    session_number: int = 1,
) -> PaperResult:
    """Run the session (and its simulated-venue baseline), then write the log and metrics.

    The log is named by `session_id` `paper_YYYYMMDD_NNN` (NNN = `session_number`).
    """
    from console.compose import build_session
    from engine.rollback import rollback_and_report

    pconfig, overrides = paper_config(config, plan)
    start_time = datetime.now(UTC)
    session_id = f"paper_{start_time:%Y%m%d}_{session_number:03d}"
    stamp = f"{start_time:%Y%m%d-%H%M%S}-{session_number:03d}"
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
                progress(PaperProgress(elapsed, plan.duration_s, strategy.placed, target,
                                       strategy.filled))  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(all_done), 1.0)
            if elapsed > plan.duration_s + 60:
                all_done.cancel()
                break
        duration = loop.time() - started
        if progress:
            progress(PaperProgress(duration, plan.duration_s, strategy.placed, target,
                                   strategy.filled, finished=True))  # fmt: skip
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
        newest = newest_backtest((out_dir, config.resolved_data_dir()))  # as gate 7 finds it
        metrics = compute_metrics(
            log,
            base_log,
            duration,
            pacing,
            disconnects,
            config.golive,
            backtest_sharpe=newest[1] if newest else None,
        )
        metrics.insert(
            2, MetricRow("automatic_rollbacks", str(auto), "count", "FAIL" if auto else "PASS")
        )
    finally:
        for s in sessions:
            await s.close()
    end_time = datetime.now(UTC)
    session = {
        "session_id": session_id,
        "start_time": _utc(start_time),
        "end_time": _utc(end_time),
    }
    log_path, metrics_path = _write_outputs(
        out_dir, session, plan, pconfig, overrides, data_dir, strategy.error, log, metrics
    )
    return PaperResult(
        log_path, metrics_path, metrics, session_id, start_time, end_time, incident,
        rollback_ok, data_dir,
    )  # fmt: skip


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _write_outputs(
    out_dir: Path,
    session: dict[str, str],
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
        **session,
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
