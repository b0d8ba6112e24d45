"""Live console benchmarks (issue #3): the REAL engine, the sim venue streaming quotes, the app.

a. approve keystroke -> the order painted in the Orders panel, while the venue streams
   1,000 quote updates/s (SimBroker + QuoteStreamer + AsyncioScheduler, app under run_test).
b. start-up time to the first painted frame of `deskgate` under a pseudo-terminal (120x40),
   for `--broker sim` and for the default embedded-gateway path (until it shows connected).
c. memory (RSS) while an hour's worth of quote updates (3.6 million at 1,000/s) goes through
   the venue -> SimBroker -> engine sink -> bus -> console path, as fast as the loop allows.

"On screen" is what a terminal would show: every frame the compositor hands the driver is
rendered to escape sequences (as the real driver does), stamped when those bytes are ready, and
fed to a small virtual terminal outside the measured path (a real terminal parses in its own
process); the order counts as visible from the stamp of the first frame after which the Orders
panel's region holds a live row with its price.

Run: .venv/bin/python -m tests.bench.bench_console_live [--approvals 60] [--rate 1000]
     [--startup-runs 5] [--updates 3600000] [--only approve|startup|memory] [--json PATH] [--smoke]

Figures (`--json`): approve_to_painted_p50_ms, approve_to_painted_p99_ms; startup_first_frame_
median_ms and startup_connected_median_ms (the slower of `--broker sim` and the embedded gateway;
each also under its own key; the first frame is the one deskgate writes before Textual loads,
and startup_{sim,gateway}_textual_frame_median_ms time Textual's own first frame after it),
startup_textual_floor_median_ms (a one-Static Textual app, same terminal and timing: the floor
Textual's first frame stands on); rss_growth_pct (from the first 10 % of the updates to the end).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual import events

from broker.sim import QuoteStreamer, SimBroker, SimVenue
from broker.sim.scheduler import AsyncioScheduler
from console.tui.app import DeskgateApp
from console.tui.widgets.tables import OrdersTable
from contracts.broker import BrokerEvent, QuoteUpdated
from contracts.config import Config
from contracts.enums import ChaosMode
from contracts.intent import Instrument
from engine.clock import SystemClock
from engine.engine import Engine
from tests.bench.console_stages import StageMarks
from tests.bench.console_startup import startup
from tests.bench.report import add_output_args, pct, table, write_figures
from tests.bench.virtual_terminal import HEIGHT, WIDTH, VirtualTerminal
from tests.support import make_intent

ACCOUNT = "DU1234567"
LIVE_STATES = ("APPROVED", "SUBMITTED", "STALLED", "FILLED", "MANAGED")
MESSAGE_LINES = range(6)
"""Screen lines the message line can be on (below the status bar, account strip, banners)."""


Rows = dict[str, str]
Figures = dict[str, float]


def bench_config() -> Config:
    """Defaults, except the limits a long run of resting entries would trip."""
    base = Config()
    risk = base.risk.model_copy(
        update={
            "max_trades_per_day": 10**6,
            "max_position": Decimal(10**9),
            "duplicate_window_s": 0.0,
            "daily_loss_limit": Decimal(10**9),
            "max_consecutive_losses": 10**6,
            "max_working_orders": 10**6,
        }
    )
    return base.model_copy(update={"risk": risk})


class FrameLog:
    """Each compositor update rendered to escape sequences as the real driver does, stamped when
    its bytes are ready for the terminal, and read into a virtual terminal only when asked.

    A real terminal parses the bytes in its own process; this one parses them in the app's loop.
    `read()` runs where a measurement is not waiting on the loop (before the keystroke, or once
    the row can be on screen), so the parse neither delays a frame nor counts in its time.
    """

    def __init__(
        self, app: DeskgateApp, vt: VirtualTerminal, seen: Callable[[float], None]
    ) -> None:
        self.vt = vt
        self.seen = seen
        """Called after each frame is read, with its stamp (the screen is as it left it)."""
        self.waiting: list[tuple[float, str]] = []
        self.reading = False
        """Read each frame as it comes (the measured row can be on screen), not only when
        asked."""
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None and hasattr(renderable, "render_segments"):
                text = renderable.render_segments(app.console)
                self.waiting.append((time.perf_counter(), text))
                if self.reading:
                    self.read()

        app._display = display  # type: ignore[method-assign]

    def read(self) -> None:
        """Feed the waiting frames in order, calling `seen` after each."""
        waiting, self.waiting = self.waiting, []
        for stamp, text in waiting:
            self.vt.feed(text)
            self.seen(stamp)


# --- a. approve keystroke -> order on screen under a quote stream ---------------------------


@dataclass
class Probe:
    """What the frame hook is looking for, and when each sign of it first appeared."""

    price: str = ""
    intent_id: str = ""
    row_painted: float | None = None
    message_painted: float | None = None
    painted: asyncio.Event = field(default_factory=asyncio.Event)


async def approve_latency(approvals: int, rate: float) -> tuple[Rows, Figures]:
    config = bench_config()
    dwell = config.console.approve_dwell_s
    tmp = Path(tempfile.mkdtemp(prefix="dg-bench-"))
    venue = SimVenue(7, ChaosMode.INSTANT, scheduler=AsyncioScheduler())
    broker = SimBroker(venue, ACCOUNT)
    streamer = QuoteStreamer(venue, rate)
    engine = Engine(config, broker, data_dir=tmp, clock=SystemClock())
    delivered = {"quotes": 0}
    sink = broker._sink
    assert sink is not None

    def counting_sink(event: BrokerEvent) -> None:
        if isinstance(event, QuoteUpdated):
            delivered["quotes"] += 1
        sink(event)

    broker.set_event_sink(counting_sink)
    app = DeskgateApp(engine, config=config)
    app.settle_heap_when_started = True  # as the `deskgate` process does
    vt = VirtualTerminal()
    probe = Probe()
    table: OrdersTable | None = None

    def seen(stamp: float) -> None:
        """After one frame: is the probed row (or the 'sent' message) on screen now?"""
        if not probe.price:
            return
        if probe.row_painted is None and table is not None:
            r = table.region
            lines = vt.region_lines(r.x, r.y, r.width, r.height)
            if any(probe.price in ln and any(s in ln for s in LIVE_STATES) for ln in lines):
                probe.row_painted = stamp
                probe.painted.set()
        sent = f"{probe.intent_id} sent"
        if probe.message_painted is None and any(sent in vt.line(y) for y in MESSAGE_LINES):
            probe.message_painted = stamp

    frames = FrameLog(app, vt, seen)
    key = app.keymap["approve"].split(",")[0].strip()
    rng, stages = random.Random(3), StageMarks(app, engine)
    to_row: list[float] = []
    to_message: list[float] = []
    to_table: list[float] = []
    used_prices: set[Decimal] = set()
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        while not (app.started and app.snapshot is not None):
            await pilot.pause(0.01)
        for spec in venue.symbols():  # every streamed update reaches the engine and the bus
            await engine.watch_quote(Instrument(symbol=spec.symbol))
        await pilot.press("3")  # the Orders panel in the split layout's tabs
        table = app.screen.query_one(OrdersTable)
        await pilot.pause(0.2)
        scrolled_away = 0
        streamer.start()
        await asyncio.sleep(1.0)  # let the stream settle
        start_updates, start_delivered = streamer.updates, delivered["quotes"]
        started_at = time.perf_counter()
        for i in range(approvals):
            bid = venue.quote("AAPL").bid
            limit = (bid * Decimal("0.985")).quantize(Decimal("0.01"))
            while limit in used_prices:  # a price no other row shows: the on-screen marker
                limit -= Decimal("0.01")
            used_prices.add(limit)
            intent = make_intent(
                engine.clock,
                intent_id=f"lat-{i:04d}",
                limit=str(limit),
                stop_loss=str(limit - Decimal("0.10")),
            )
            result = await engine.propose(intent, source="bench")
            assert result.accepted, result.message
            deadline = time.perf_counter() + 10
            while not (
                app.selected is not None
                and app.selected.intent.intent_id == intent.intent_id
                and app.blocker is None
            ):
                assert time.perf_counter() < deadline, f"never approvable: {app.blocker}"
                frames.read()  # keep the waiting frames few
                await asyncio.sleep(0.005)
            if table.scroll_offset.y:
                # The cursor stays on its row while newer orders are inserted above it, so the
                # table scrolls the newest rows out of view: put the cursor back on top.
                scrolled_away += 1
                table.move_cursor(row=0, animate=False)
            # The trader reads the headline for the dwell (the console refuses an approve
            # sooner), then presses: the keystroke never lands on the new trade's own frames.
            await asyncio.sleep(dwell + rng.uniform(0.05, 0.25))
            probe.price, probe.intent_id = f"{limit:.2f}", intent.intent_id
            probe.row_painted = probe.message_painted = None
            probe.painted.clear()
            frames.reading = False
            frames.read()  # the frames so far, outside the measured window
            t0 = stages.start()
            app.post_message(events.Key(key, key))  # as the terminal driver delivers it
            table_at = None
            while table_at is None:  # the DataTable holds the row (not yet painted)
                if any(k == intent.intent_id for k, _ in table._rows):
                    table_at = time.perf_counter()
                    break
                await asyncio.sleep(0.0005)
            # From here a frame can show the row: read each one as it comes (its stamp is
            # taken before the read, so the read does not count).
            frames.reading = True
            frames.read()
            if probe.row_painted is not None:
                table_at = min(table_at, probe.row_painted)
            try:
                await asyncio.wait_for(probe.painted.wait(), 10)
            except TimeoutError:
                r = table.region
                print("\n".join(vt.region_lines(r.x, r.y, r.width, r.height)))
                print([(k, [str(c) for c in cells]) for k, cells in table._rows[:3]])
                print(probe, table.region, table.scroll_offset)
                raise
            assert probe.row_painted is not None
            to_row.append((probe.row_painted - t0) * 1000)
            to_table.append((table_at - t0) * 1000)
            stages.keep()
            deadline = time.perf_counter() + 2
            while probe.message_painted is None and time.perf_counter() < deadline:
                await asyncio.sleep(0.002)
            if probe.message_painted is not None:
                to_message.append((probe.message_painted - t0) * 1000)
            probe.price = ""
            frames.reading = False
            if i % 10 == 9:  # keep the book small; cancels are not part of the measurement
                venue.cancel_all(ACCOUNT)
                await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started_at
        updates = streamer.updates - start_updates
        reached = delivered["quotes"] - start_delivered
        await streamer.stop()
        dropped = app._subscription.dropped if app._subscription else 0
    shutil.rmtree(tmp, ignore_errors=True)

    def row(samples: list[float]) -> str:
        return (
            f"p50 {pct(samples, 50):6.1f}  p95 {pct(samples, 95):6.1f}  "
            f"p99 {pct(samples, 99):6.1f}  max {max(samples):6.1f} ms"
        )

    figures = {
        "approve_to_painted_p50_ms": pct(to_row, 50),
        "approve_to_painted_p99_ms": pct(to_row, 99),
        **await stages.floor(approvals, (WIDTH, HEIGHT)),
    }
    return {
        f"approve -> order row painted ({len(to_row)} approvals)": row(to_row),
        "approve -> row in OrdersTable (not yet painted)": row(to_table),
        **stages.rows(row),
        f"approve -> 'sent' message painted ({len(to_message)})": row(to_message)
        if to_message
        else "never seen",
        "venue quote updates produced": f"{updates / elapsed:,.0f}/s over {elapsed:.1f}s "
        f"(target {rate:,.0f}/s)",
        "quote updates reaching the engine sink": f"{reached / elapsed:,.0f}/s "
        f"(bus items dropped by the console queue: {dropped:,})",
        "newest order scrolled out of the Orders view": f"{scrolled_away} of {approvals} "
        "approvals (cursor reset to the top before pressing)",
    }, figures


# --- c. memory after an hour of quotes ----------------------------------------------------


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def memory_hour(total: int, every: int, trace_top: int) -> tuple[Rows, Figures]:
    config = bench_config()
    tmp = Path(tempfile.mkdtemp(prefix="dg-mem-"))
    venue = SimVenue(7, ChaosMode.INSTANT, scheduler=AsyncioScheduler())
    broker = SimBroker(venue, ACCOUNT)
    engine = Engine(config, broker, data_dir=tmp, clock=SystemClock())
    app = DeskgateApp(engine, config=config)
    app.settle_heap_when_started = True  # as the `deskgate` process does
    frames = {"n": 0}
    original = app._display

    def display(screen: Any, renderable: Any) -> None:
        original(screen, renderable)
        if renderable is not None:
            frames["n"] += 1

    app._display = display  # type: ignore[method-assign]
    samples: list[tuple[int, int, float]] = []
    names = [s.symbol for s in venue.symbols()]
    batch = 500
    snapshot_a: tracemalloc.Snapshot | None = None
    snapshot_b: tracemalloc.Snapshot | None = None

    async def push(start: int, count: int) -> None:
        for k in range(start, start + count, batch):
            for j in range(batch):  # venue -> SimBroker -> engine sink -> bus -> console
                venue.step(names[(k + j) % len(names)])
            await asyncio.sleep(0)  # the console drains the bus and paints between batches

    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        while not (app.started and app.snapshot is not None):
            await pilot.pause(0.01)
        for name in names:
            await engine.watch_quote(Instrument(symbol=name))
        await pilot.pause(0.5)
        gc.collect()
        start = time.perf_counter()
        samples.append((0, rss_kib(), start))
        pushed = 0
        while pushed < total:
            await push(pushed, every)
            pushed += every
            samples.append((pushed, rss_kib(), time.perf_counter()))
        elapsed = time.perf_counter() - start
        await pilot.pause(0.3)
        gc.collect()
        samples.append((pushed, rss_kib(), time.perf_counter()))
        queued = app._subscription.queue.qsize() if app._subscription else 0
        if trace_top:  # after the samples: tracemalloc's own cost stays out of them
            tracemalloc.start(1)
            await push(0, every)  # warm the traced allocations
            gc.collect()
            snapshot_a = tracemalloc.take_snapshot()
            await push(0, every)
            await pilot.pause(0.3)
            gc.collect()
            snapshot_b = tracemalloc.take_snapshot()
            tracemalloc.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    print("RSS samples (quote updates pushed -> VmRSS, push rate over the interval):")
    for (n, kib, at), (n0, _, at0) in zip(samples, [samples[0], *samples], strict=False):
        rate = (n - n0) / (at - at0) if at > at0 else 0.0
        print(f"  {n:>9,}  {kib / 1024:8.1f} MiB  {rate:9,.0f} updates/s")
    tenth = next(kib for n, kib, _ in samples if n >= total // 10)
    end = samples[-1][1]
    results = {
        "quote updates pushed": f"{pushed:,} in {elapsed:.0f}s ({pushed / elapsed:,.0f}/s, "
        f"{frames['n']:,} frames painted)",
        "RSS at start / at 10 % / at end": f"{samples[0][1] / 1024:.1f} / {tenth / 1024:.1f} / "
        f"{end / 1024:.1f} MiB",
        "growth from first 10 % to end": f"{(end - tenth) / 1024:+.1f} MiB "
        f"({(end - tenth) / tenth * 100:+.1f} %)",
        "console bus queue left": str(queued),
    }
    if snapshot_a is not None and snapshot_b is not None:
        print(f"tracemalloc: top allocation growth over {every:,} more updates (after the run):")
        for stat in snapshot_b.compare_to(snapshot_a, "lineno")[:trace_top]:
            frame = stat.traceback[0]
            print(
                f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                f"{Path(frame.filename).name}:{frame.lineno}"
            )
    return results, {"rss_growth_pct": (end - tenth) / tenth * 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--approvals", type=int, default=60)
    parser.add_argument("--rate", type=float, default=1000.0, help="venue quote updates/s")
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--updates", type=int, default=3_600_000, help="one hour at 1,000/s")
    parser.add_argument("--sample-every", type=int, default=100_000)
    parser.add_argument("--trace-top", type=int, default=8, help="tracemalloc lines (0: off)")
    parser.add_argument("--only", choices=("approve", "startup", "memory"))
    add_output_args(parser)
    args = parser.parse_args()
    if args.smoke:
        args.approvals, args.rate, args.startup_runs = 2, 50.0, 1
        args.updates, args.sample_every, args.trace_top = 2_000, 1_000, 0
    out: list[tuple[str, Rows]] = []
    figures: Figures = {}
    if args.only in (None, "approve"):
        rows, got = asyncio.run(approve_latency(args.approvals, args.rate))
        figures |= got
        out.append((f"a. approve keystroke -> screen, venue streaming {args.rate:,.0f}/s", rows))
        table(*out[-1])
    if args.only in (None, "startup"):
        rows, got = startup(args.startup_runs)
        figures |= got
        out.append((f"b. start-up to first frame (pty {WIDTH}x{HEIGHT})", rows))
        table(*out[-1])
    if args.only in (None, "memory"):
        rows, got = asyncio.run(memory_hour(args.updates, args.sample_every, args.trace_top))
        figures |= got
        out.append((f"c. memory over {args.updates:,} quote updates (app running)", rows))
        table(*out[-1])
    print("\n######## summary ########")
    for title, rows in out:
        table(title, rows)
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
