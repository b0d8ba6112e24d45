"""Backtest throughput: 1-minute bars per second through the whole strategy pipeline.

Run: .venv/bin/python -m tests.bench.bench_backtest [--bars 350000] [--json PATH] [--smoke]

The bars are a fast synthetic MES tape (regimes of trend, range and bursts on the tick grid, in
23-hour Globex sessions) made before the clock starts; the timed part is `run_backtest`:
signals, beliefs, K1–K5, EUC and sizing, trade manager, virtual fills, learning and journal.
Per-bar decision latency is sampled on a separate pass of `StrategyRuntime.on_bar`.
Wall time on a shared machine depends on its load; `bars_per_cpu_second` (process CPU time) is
the figure that does not (the run is single-threaded).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from contracts.config import RiskConfig
from contracts.market import ContractFacts
from contracts.strategy import StrategyConfig
from engine.metrics import percentile
from engine.strategy.backtest import run_backtest
from engine.strategy.bars import BarView
from engine.strategy.runtime import StrategyRuntime

SESSION_BARS = 1380
"""17:00 to 16:00 Chicago: one Globex day of 1-minute bars."""
FIRST_DAY = date(2026, 1, 5)
MES = ContractFacts(
    con_id=620_000_001,
    symbol="MES",
    sec_type="FUT",
    exchange="CME",
    currency="USD",
    multiplier=Decimal(5),
    min_tick=Decimal("0.25"),
    expiry=date(2026, 12, 18),
)


def trading_days(n: int) -> list[date]:
    days: list[date] = []
    day = FIRST_DAY
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def synthetic_sessions(total_bars: int, seed: int) -> list[tuple[date, list[BarView]]]:
    rng = random.Random(seed)
    sessions = []
    price = 5900.0
    n_sessions = max(1, -(-total_bars // SESSION_BARS))
    made = 0
    for day in trading_days(n_sessions):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=1)  # 17:00 CST
        bars = []
        drift, left = 0.0, 0
        for i in range(min(SESSION_BARS, total_bars - made)):
            if left == 0:
                kind = rng.choice(("trend", "range", "range", "burst"))
                drift = rng.choice((-1, 1)) * (0.3 if kind == "trend" else 0.0)
                scale = 3.0 if kind == "burst" else 1.0
                left = rng.randint(20, 90)
            left -= 1
            o = price
            c = round((o + drift + rng.gauss(0, 1.0) * scale) * 4) / 4
            h = max(o, c) + round(abs(rng.gauss(0, 0.5)) * 4) / 4
            lo = min(o, c) - round(abs(rng.gauss(0, 0.5)) * 4) / 4
            bars.append(
                BarView("MES", start + timedelta(minutes=i), 60, o, h, lo, c, rng.randint(20, 400))
            )
            price = c
        made += len(bars)
        sessions.append((day, bars))
    return sessions


def decision_latency(sessions: list[tuple[date, list[BarView]]], samples: int) -> dict[str, float]:
    runtime = StrategyRuntime(StrategyConfig(), {"MES": MES}, lambda r: None, equity=Decimal(10000))
    timings: list[float] = []
    for day, bars in sessions:
        runtime.new_session(day)
        for bar in bars:
            t0 = time.perf_counter_ns()
            runtime.on_bar(bar, now=bar.end)
            timings.append((time.perf_counter_ns() - t0) / 1000)
            if len(timings) >= samples:
                break
        if len(timings) >= samples:
            break
    return {
        "on_bar_p50_us": round(percentile(timings, 50) or 0.0, 1),
        "on_bar_p99_us": round(percentile(timings, 99) or 0.0, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=350_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-samples", type=int, default=20_000)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny counts (the suite's check)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.bars, args.latency_samples = 3000, 200
    sessions = synthetic_sessions(args.bars, args.seed)
    gc.freeze()  # the prepared tape is not garbage: keep the collector from rescanning it
    started, cpu_started = time.perf_counter(), time.process_time()
    risk = RiskConfig()  # one MES is ~$30k notional: inside the default futures cap
    result = run_backtest(
        StrategyConfig(), sessions, {"MES": MES}, equity=Decimal(10000), risk=risk
    )
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    figures: dict[str, float] = {
        "bars": float(result.bars),
        "sessions": float(len(result.sessions)),
        "seconds": round(elapsed, 3),
        "bars_per_second": round(result.bars / max(elapsed, 1e-9), 1),
        "cpu_seconds": round(cpu, 3),
        "bars_per_cpu_second": round(result.bars / max(cpu, 1e-9), 1),
        "trades": float(len(result.live_trades)),
        "shadow_trades": float(len(result.trades) - len(result.live_trades)),
        "learning_events": float(len(result.learning)),
        **decision_latency(sessions, args.latency_samples),
    }
    print(
        f"backtest: {result.bars} bars in {elapsed:.2f} s = {figures['bars_per_second']} bars/s "
        f"({cpu:.2f} s of CPU = {figures['bars_per_cpu_second']} bars per CPU second) "
        f"through the full pipeline ({figures['trades']} trades); on_bar p50 "
        f"{figures['on_bar_p50_us']} us, p99 {figures['on_bar_p99_us']} us"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return figures


if __name__ == "__main__":
    main()
