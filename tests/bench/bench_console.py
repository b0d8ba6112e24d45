"""Console benchmarks: frame cost on a busy day, and keystroke latency during a quote storm.

Run: .venv/bin/python -m tests.bench.bench_console [--orders 300] [--quotes 20000] [--json PATH]
     [--smoke]

Figures (`--json`): frame_p50_ms, frame_p95_ms (one state render, 200x60, busy day);
storm_frames_per_s, kill_dialog_p50_ms, kill_dialog_p95_ms (K during a quote storm).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from textual import events

from console.tui.app import DeskgateApp
from console.tui.messages import EngineChanged
from console.tui.screens.main import MainScreen
from console.tui.screens.modals import KillConfirmScreen
from contracts.enums import LifecycleState, Side
from engine.bus import StateChanged
from engine.clock import ManualClock
from engine.view import LatencyView
from tests.bench.report import add_output_args, pct, write_figures
from tests.console import scenarios
from tests.console.fakes import FakeEngine, make_intent


def busy_engine(orders: int) -> FakeEngine:
    clock = ManualClock()
    engine = scenarios.base(FakeEngine(clock=clock))
    for i in range(20):
        engine.add_pending(make_intent(f"p-{i}", clock=clock), expires_in=60 + i, publish=False)
    states = [
        LifecycleState.SUBMITTED,
        LifecycleState.MANAGED,
        LifecycleState.CLOSED,
        LifecycleState.STALLED,
        LifecycleState.CANCELLED,
    ]
    for i in range(orders):
        engine.add_order(
            f"o-{i}",
            states[i % len(states)],
            age_s=i,
            requested=str(10 + i % 50),
            side=Side.BUY if i % 2 else Side.SELL,
        )
    engine.latency = LatencyView(
        *(tuple(float((i * k) % 97) for i in range(1000)) for k in (3, 7, 11))
    )
    return engine


async def frame_cost(orders: int, frames: int) -> dict[str, float]:
    engine = busy_engine(orders)
    engine.started = False
    app = DeskgateApp(engine, config=engine.config, clock=engine.clock)
    async with app.run_test(size=(200, 60)) as pilot:
        while not (app.started and app.snapshot is not None):
            await pilot.pause(0.01)
        main = app.screen
        assert isinstance(main, MainScreen)
        costs = []
        for i in range(frames):
            engine.clock.advance(1)
            if i % 10 == 0:  # a real change every tenth frame, ticks otherwise
                engine.add_pending(make_intent(f"n-{i}", clock=engine.clock), publish=False)
                app.snapshot = engine.snapshot()
            t0 = time.perf_counter()
            app._render_state()
            costs.append((time.perf_counter() - t0) * 1000)
            await pilot.pause()
        print(
            f"frame (200x60, {orders} orders, 20+ pending): p50 {pct(costs, 50):.2f} ms "
            f"p95 {pct(costs, 95):.2f} ms max {max(costs):.2f} ms over {frames}"
        )
    return {"frame_p50_ms": pct(costs, 50), "frame_p95_ms": pct(costs, 95)}


async def quote_storm(quotes: int, seconds: float) -> dict[str, float]:
    engine = busy_engine(50)
    engine.started = False
    messages: list[Any] = []
    app = DeskgateApp(engine, config=engine.config, clock=engine.clock)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        while not (app.started and app.snapshot is not None):
            await pilot.pause(0.01)
        main = app.screen
        assert isinstance(main, MainScreen)
        stop = asyncio.Event()

        async def storm() -> None:
            """`quotes` items per second for `seconds`, in 10 ms bursts."""
            for _ in range(int(seconds * 100)):
                for _ in range(quotes // 100):
                    engine.bus.publish(StateChanged("quote"))
                await asyncio.sleep(0.01)
            stop.set()

        before = sum(isinstance(m, EngineChanged) for m in messages)
        started_at = time.perf_counter()
        task = asyncio.create_task(storm())
        latencies = []
        while not stop.is_set():
            t0 = time.perf_counter()
            app.post_message(events.Key("K", "K"))  # as the terminal driver delivers it
            while not isinstance(app.screen, KillConfirmScreen):
                await asyncio.sleep(0.001)
            latencies.append((time.perf_counter() - t0) * 1000)
            app.screen.dismiss(False)
            while isinstance(app.screen, KillConfirmScreen):
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.05)
        await task
        elapsed = time.perf_counter() - started_at
        await pilot.pause(0.3)
        frames = sum(isinstance(m, EngineChanged) for m in messages) - before
        sent = int(seconds * 100) * (quotes // 100)
        print(
            f"quote storm: {sent} bus items in {elapsed:.1f}s -> {frames} frames "
            f"({frames / elapsed:.1f}/s); K -> kill dialog p50 "
            f"{statistics.median(latencies):.1f} ms p95 {pct(latencies, 95):.1f} ms "
            f"max {max(latencies):.1f} ms ({len(latencies)} keys)"
        )
    return {
        "storm_frames_per_s": frames / elapsed,
        "kill_dialog_p50_ms": statistics.median(latencies),
        "kill_dialog_p95_ms": pct(latencies, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--quotes", type=int, default=5000, help="bus items per second")
    parser.add_argument("--seconds", type=float, default=3.0)
    add_output_args(parser)
    args = parser.parse_args()
    if args.smoke:
        args.orders, args.frames, args.quotes, args.seconds = 10, 3, 200, 0.3
    figures = asyncio.run(frame_cost(args.orders, args.frames))
    figures |= asyncio.run(quote_storm(args.quotes, args.seconds))
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
