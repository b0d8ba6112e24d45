"""Engine benchmarks: approve -> broker submit overhead, and audit append throughput.

Run: .venv/bin/python -m tests.bench.bench_engine [--approvals 10000] [--dwell-ms 0] [--json PATH]
     [--smoke]

`--dwell-ms` idles the loop that long before each approval and before each floor commit, as a
trader reading the trade does: the approval then runs on a cold CPU cache (on a shared VM, its
work and its commit both slow down), and the floor is measured on the same terms.

Figures (`--json`): approve_to_submit_p50_ms, approve_to_submit_p99_ms (approve call -> the
broker's submit entered), write_ahead_p50_ms, write_ahead_p99_ms (the same approvals' own synced
write-ahead commit, timed on the path), engine_work_p50_ms, engine_work_p99_ms (each approval's
time less its own commit: the engine's work on the path), fsync_floor_p50_ms,
fsync_floor_p99_ms (one fully synced commit of the write-ahead's beads, same sizes, same disk:
the physical floor under the order path),
anchor_sync_p50_ms, anchor_sync_p99_ms (the head anchor's write after the send; its fdatasync
runs on a background thread),
audit_durable_beads_per_s, audit_batched_beads_per_s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from broker.sim.broker import SimBroker
from broker.sim.venue import SimVenue
from contracts.broker import OrderRequest
from contracts.config import Config
from contracts.enums import AlertLevel
from contracts.events import AlertRaised, AuditedEvent
from engine.audit import AuditStore
from engine.clock import ManualClock
from engine.engine import Engine
from engine.heap import settle_heap
from tests.bench.report import add_output_args, dist, pct, write_figures
from tests.support import make_intent


async def approve_to_submit(n: int, directory: Path, dwell_s: float = 0.0) -> dict[str, float]:
    base = Config()
    config = base.model_copy(
        update={
            "risk": base.risk.model_copy(
                update={
                    "max_trades_per_day": n + 1,
                    "max_position": Decimal(10**9),
                    "duplicate_window_s": 0.0,
                    "max_working_orders": 10**6,
                }
            )
        }
    )
    venue = SimVenue(seed=1)
    clock = ManualClock(venue.scheduler.now())  # the venue's quotes are fresh on this clock
    broker = SimBroker(venue)
    entered: list[float] = []
    real_submit = broker.submit

    async def timed_submit(order: OrderRequest) -> None:
        entered.append(time.perf_counter())
        await real_submit(order)

    broker.submit = timed_submit  # type: ignore[method-assign]
    engine = Engine(config, broker, data_dir=directory, clock=clock)
    await engine.start()
    committed: list[float] = []
    store = engine.recorder.store
    durable = store.append_durable

    def timed_durable(event: AuditedEvent, **options: bool) -> int:
        t0 = time.perf_counter()
        try:
            return durable(event, **options)
        finally:
            committed.append(time.perf_counter())
            committed.append(t0)

    store.append_durable = timed_durable  # type: ignore[method-assign]
    # Pacing is measured by the gateway benchmark; here the engine's own work is measured. The
    # components share the engine's throttle object: open it in place (a replacement object
    # would not reach them, and the pacer's one-second waits would pass for engine time).
    engine.throttle.per_second = 10**9
    settle_heap()  # as the console does once the engine has started
    overhead: list[float] = []
    commit: list[float] = []
    for i in range(n):
        q = venue.quote("AAPL")
        intent = make_intent(
            clock, limit=str(q.bid - Decimal("0.50")), stop_loss=str(q.bid - Decimal("0.60"))
        )
        result = await engine.propose(intent)
        assert result.accepted, result.message
        # The console keeps approve greyed out while the broker's preview is on its way (and
        # for the dwell time after): time the approve a trader can press, not the preview wait.
        while engine.previews.waiting(intent.intent_id) is not None:
            await asyncio.sleep(0)
        # The dwell also lets the engine's 100 ms flusher write the proposal's beads (intent,
        # checks, token, preview), and the head anchor's background sync finish: the write-ahead
        # commit then holds only the approval's own beads, on a quiet disk.
        engine.recorder.flush()
        engine.recorder.store.settle()
        if dwell_s:
            await asyncio.sleep(dwell_s)
        token = engine.pending_token(intent.intent_id) or ""
        committed.clear()
        start = time.perf_counter()
        ok = await engine.approve(intent.intent_id, token)
        assert ok.ok, ok.message
        overhead.append((entered[-1] - start) * 1000)
        t0, t1 = committed[1], committed[0]  # the approval's one synced commit: its write-ahead
        assert len(committed) == 2, "one synced commit per approval"
        commit.append((t1 - t0) * 1000)
        clock.advance(0.0001)
        if i % 500 == 499:
            venue.cancel_all()
    await engine.stop()
    print(f"approve -> broker.submit over {n} approvals (sim venue, full-sync write-ahead):")
    print(f"  {dist(overhead)}  mean {statistics.fmean(overhead):.3f} ms")
    work = [total - synced for total, synced in zip(overhead, commit, strict=True)]
    print(f"of which the approval's own synced write-ahead commit:\n  {dist(commit)}")
    print(f"the rest, the engine's work on the path:\n  {dist(work)}")
    return {
        "approve_to_submit_p50_ms": pct(overhead, 50),
        "approve_to_submit_p99_ms": pct(overhead, 99),
        "write_ahead_p50_ms": pct(commit, 50),
        "write_ahead_p99_ms": pct(commit, 99),
        "engine_work_p50_ms": pct(work, 50),
        "engine_work_p99_ms": pct(work, 99),
    }


WRITE_AHEAD_BEADS = (214, 261, 2053, 691)
"""Payload sizes of the beads an approval commits before its order leaves: token used, the move
to APPROVED, the submit-time risk checks, the order itself (measured on this benchmark)."""


def fsync_floor(directory: Path, n: int, dwell_s: float = 0.0) -> dict[str, float]:
    """One synced commit of the write-ahead's bytes, nothing else: the floor the order path sits on.

    As on the order path, the head anchor's fdatasync (tamper evidence) follows the commit; it is
    timed apart (`anchor_sync_*`): the order waits for the commit only.
    """
    now = datetime.now(UTC)
    store = AuditStore(directory / "floor.sqlite")
    samples: list[float] = []
    anchor: list[float] = []
    for i in range(n):
        *queued, last = (
            AlertRaised(
                ts_event=now,
                ts_init=now,
                level=AlertLevel.INFO,
                code="FLOOR",
                message=f"{i:08d}" + "x" * (size - 150),
            )
            for size in WRITE_AHEAD_BEADS
        )
        t0 = time.perf_counter()
        for event in queued:
            store.append(event)
        store.append_durable(last, write_ahead=True)
        t1 = time.perf_counter()
        store.sync_anchor()
        anchor.append((time.perf_counter() - t1) * 1000)
        samples.append((t1 - t0) * 1000)
        store.flush()  # the flusher's next write: the side rows the write-ahead left due
        store.settle()  # the quiet disk an approval finds after the dwell (as timed above)
        if dwell_s:
            time.sleep(dwell_s)
    store.close()
    print(f"fsync floor: one synced commit of the write-ahead's {len(WRITE_AHEAD_BEADS)} beads:")
    print(f"  {dist(samples)}")
    print(f"then the head anchor's write (its fdatasync runs off the loop):\n  {dist(anchor)}")
    return {
        "fsync_floor_p50_ms": pct(samples, 50),
        "fsync_floor_p99_ms": pct(samples, 99),
        "anchor_sync_p50_ms": pct(anchor, 50),
        "anchor_sync_p99_ms": pct(anchor, 99),
    }


def audit_throughput(directory: Path, n: int) -> dict[str, float]:
    now = datetime.now(UTC)
    events = [
        AlertRaised(ts_event=now, ts_init=now, level=AlertLevel.INFO, code="B", message=str(i))
        for i in range(n)
    ]
    store = AuditStore(directory / "durable.sqlite")
    start = time.perf_counter()
    for e in events[: n // 10]:
        store.append_durable(e)
    durable = (n // 10) / (time.perf_counter() - start)
    store.close()
    store = AuditStore(directory / "batched.sqlite")
    start = time.perf_counter()
    for e in events:
        store.append(e)
    store.flush()
    batched = n / (time.perf_counter() - start)
    store.close()
    print("audit append throughput:")
    print(f"  full sync per bead (order path): {durable:,.0f} beads/s")
    print(f"  batched (256 a transaction):     {batched:,.0f} beads/s")
    return {"audit_durable_beads_per_s": durable, "audit_batched_beads_per_s": batched}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--approvals", type=int, default=10_000)
    parser.add_argument("--beads", type=int, default=50_000)
    parser.add_argument(
        "--dwell-ms", type=float, default=0.0, help="idle before each approval and floor commit"
    )
    add_output_args(parser)
    args = parser.parse_args()
    if args.smoke:
        args.approvals, args.beads, args.dwell_ms = 5, 50, min(args.dwell_ms, 1.0)
    dwell_s = args.dwell_ms / 1000
    if dwell_s:
        print(f"each approval and each floor commit after {args.dwell_ms:g} ms idle")
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures |= asyncio.run(approve_to_submit(args.approvals, Path(tmp), dwell_s))
    with tempfile.TemporaryDirectory() as tmp:
        figures |= fsync_floor(Path(tmp), max(5, min(args.approvals, 2000)), dwell_s)
    with tempfile.TemporaryDirectory() as tmp:
        figures |= audit_throughput(Path(tmp), args.beads)
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
