"""Per-bar decision latency of the K1–K5 bot in the live console while the venue streams quotes.

The REAL engine over the sim venue (SimBroker + QuoteStreamer at `--rate` quote updates/s, every
symbol watched, so each update crosses the engine sink and the bus), the console app running
(under run_test, 120x40), and the bot (`BotPlugin`, K1–K5 on MES) as the engine's intent source,
reading the same bus. MES 5-second bars from the synthetic tape of bench_backtest (from 08:30
Chicago, so the entry window is open) are published on the bus, one minute's 12 bars every
`--minute-every-ms`; the venue's own bars are not subscribed.

A bar's decision latency runs from the publish of the 5-second bar that closes a minute to the
return of `BotPlugin.handle` for it: the wait behind the quotes queued on the bot's bus
subscription, the roll to a 1-minute bar, and signals, beliefs, DVS/EQS, trade management and
the K1–K5 decisions with their journal records. What the bot then does with the actions
(proposing to the engine) is not in the figure; it delays the next bar, which is.
Proposals carry the tape's (past) time, so the engine denies them as stale: that is the engine's
check, after the decision.

Run: .venv/bin/python -m tests.bench.bench_bot_live [--minutes 300] [--rate 1000]
     [--minute-every-ms 200] [--json PATH] [--smoke]

Figures (`--json`): bar_decision_p50_ms, bar_decision_p99_ms, bar_decision_max_ms, bars_timed,
quotes_per_s (updates that reached the engine, per second of the timed run).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from broker.sim import QuoteStreamer, SimBroker, SimVenue
from broker.sim.scheduler import AsyncioScheduler
from console.tui.app import DeskgateApp
from contracts.broker import BarUpdated, BrokerEvent, QuoteUpdated
from contracts.enums import ChaosMode
from contracts.intent import Instrument
from contracts.market import Bar
from contracts.strategy import StrategyConfig
from engine.clock import SystemClock
from engine.engine import Engine
from engine.strategy.bars import BarView
from engine.strategy.manager import Action
from engine.strategy.plugin import BotPlugin
from tests.bench.bench_backtest import MES, SESSION_BARS, synthetic_sessions
from tests.bench.bench_console_live import ACCOUNT, HEIGHT, WIDTH, bench_config
from tests.bench.report import add_output_args, dist, pct, table, write_figures

FIRST_BAR = 930
"""Index of 08:30 Chicago in a synthetic session (which opens 17:00 the evening before)."""
SUB_BARS = 12


class TimedBot(BotPlugin):
    """The bot, timing each minute-closing bar from its publish to its decision."""

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config, facts={"MES": MES})
        self.published: dict[datetime, float] = {}
        self.latencies_ms: list[float] = []

    def handle(self, item: object) -> list[Action]:
        actions = super().handle(item)
        if isinstance(item, BarUpdated):
            sent = self.published.pop(item.bar.ts, None)
            if sent is not None:
                self.latencies_ms.append((time.perf_counter() - sent) * 1000)
        return actions


def five_second_bars(minute: BarView) -> list[Bar]:
    """A minute as IB's 5-second bars: open first, the high and low inside, the close last."""
    out = []
    for i in range(SUB_BARS):
        price = minute.close if i == SUB_BARS - 1 else minute.open
        out.append(
            Bar(
                symbol="MES",
                ts=minute.ts + timedelta(seconds=5 * i),
                seconds=5,
                open=Decimal(str(minute.open if i == 0 else price)),
                high=Decimal(str(minute.high if i == 5 else max(minute.open, minute.close))),
                low=Decimal(str(minute.low if i == 6 else min(minute.open, minute.close))),
                close=Decimal(str(price)),
                volume=Decimal(minute.volume) / SUB_BARS,
            )
        )
    return out


def tape(minutes: int) -> list[BarView]:
    """`minutes` 1-minute MES bars from 08:30 Chicago on, across sessions when needed."""
    per_session = SESSION_BARS - FIRST_BAR
    out: list[BarView] = []
    for _, bars in synthetic_sessions((minutes // per_session + 1) * SESSION_BARS, seed=7):
        out += bars[FIRST_BAR:]
    return out[:minutes]


async def bar_latency(minutes: int, rate: float, every_ms: float) -> tuple[dict[str, str], Any]:
    config = bench_config()
    tmp = Path(tempfile.mkdtemp(prefix="dg-bench-bot-"))
    venue = SimVenue(7, ChaosMode.INSTANT, scheduler=AsyncioScheduler())
    broker = SimBroker(venue, ACCOUNT)
    streamer = QuoteStreamer(venue, rate)
    bot = TimedBot(config.strategy.model_copy(update={"symbols": ("MES",)}))
    engine = Engine(config, broker, data_dir=tmp, clock=SystemClock(), sources=[bot])

    async def no_venue_subscription(instrument: Instrument, *args: Any) -> bool:
        return True  # the bench publishes MES bars itself; the venue has no MES

    engine.watch_bars = no_venue_subscription  # type: ignore[method-assign]
    engine.watch_quote = no_venue_subscription  # type: ignore[method-assign,assignment]
    delivered = {"quotes": 0}
    sink = broker._sink
    assert sink is not None

    def counting_sink(event: BrokerEvent) -> None:
        if isinstance(event, QuoteUpdated):
            delivered["quotes"] += 1
        sink(event)

    broker.set_event_sink(counting_sink)
    app = DeskgateApp(engine, config=config)
    bars = tape(minutes)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        while not (app.started and app.snapshot is not None and bot.runtime is not None):
            await pilot.pause(0.01)
        for spec in venue.symbols():
            await engine.session.watch_quote(Instrument(symbol=spec.symbol))
        streamer.start()
        await asyncio.sleep(1.0)  # let the stream settle
        start_quotes, started = delivered["quotes"], time.perf_counter()
        for minute in bars:
            subs = five_second_bars(minute)
            for sub in subs:
                if sub is subs[-1]:
                    bot.published[sub.ts] = time.perf_counter()
                engine.bus.publish(BarUpdated(ts=sub.ts + timedelta(seconds=5), bar=sub))
            await asyncio.sleep(every_ms / 1000)
        deadline = time.perf_counter() + 10
        while bot.published and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        quotes = delivered["quotes"] - start_quotes
        await streamer.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    timed = bot.latencies_ms
    assert timed, "no bar reached a decision"
    runtime = bot.runtime
    assert runtime is not None
    figures = {
        "bar_decision_p50_ms": round(pct(timed, 50), 3),
        "bar_decision_p99_ms": round(pct(timed, 99), 3),
        "bar_decision_max_ms": round(max(timed), 3),
        "bars_timed": float(len(timed)),
        "quotes_per_s": round(quotes / max(elapsed, 1e-9), 1),
    }
    rows = {
        "minute bars": f"{len(timed)} of {len(bars)} decided ({len(bot.published)} never)",
        "publish -> decision": dist(timed),
        "quotes reaching the engine": f"{figures['quotes_per_s']:,.0f}/s (asked {rate:,.0f}/s)",
        "journal (last decision)": next(
            (s.last_decision for s in runtime.status() if s.last_decision), "none"
        )[:100],
    }
    return rows, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=300, help="1-minute bars to decide")
    parser.add_argument("--rate", type=float, default=1000.0, help="venue quote updates/s")
    parser.add_argument(
        "--minute-every-ms",
        type=float,
        default=200.0,
        help="one minute of bars this often (300x real time: a minute's bars land together)",
    )
    add_output_args(parser)
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.rate = 20, 100.0
    rows, figures = asyncio.run(bar_latency(args.minutes, args.rate, args.minute_every_ms))
    table(f"bot per-bar decision latency, venue streaming {args.rate:,.0f}/s", rows)
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
