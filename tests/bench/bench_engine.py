"""Engine benchmarks: approve -> broker submit overhead, and audit append throughput.

Run: .venv/bin/python -m tests.bench.bench_engine [--approvals 10000]
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
from contracts.events import AlertRaised
from engine.audit import AuditStore
from engine.clock import ManualClock, SystemClock
from engine.engine import Engine
from engine.throttle import OutboundThrottle
from tests.support import make_intent


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def approve_to_submit(n: int, directory: Path) -> None:
    base = Config()
    config = base.model_copy(
        update={
            "risk": base.risk.model_copy(
                update={
                    "max_trades_per_day": n + 1,
                    "max_position": Decimal(10**9),
                    "duplicate_window_s": 0.0,
                }
            )
        }
    )
    clock = ManualClock(datetime.now(UTC))
    venue = SimVenue(seed=1)
    broker = SimBroker(venue)
    entered: list[float] = []
    real_submit = broker.submit

    async def timed_submit(order: OrderRequest) -> None:
        entered.append(time.perf_counter())
        await real_submit(order)

    broker.submit = timed_submit  # type: ignore[method-assign]
    engine = Engine(config, broker, data_dir=directory, clock=clock)
    await engine.start()
    # Pacing is measured by the gateway benchmark; here the engine's own work is measured.
    engine.throttle = OutboundThrottle(10**9, SystemClock())
    overhead: list[float] = []
    redeem_to_submit: list[float] = []
    for i in range(n):
        q = venue.quote("AAPL")
        intent = make_intent(
            clock, limit=str(q.bid - Decimal("0.50")), stop_loss=str(q.bid - Decimal("0.60"))
        )
        result = await engine.propose(intent)
        assert result.accepted, result.message
        token = engine.pending_token(intent.intent_id) or ""
        start = time.perf_counter()
        ok = await engine.approve(intent.intent_id, token)
        assert ok.ok, ok.message
        overhead.append((entered[-1] - start) * 1000)
        clock.advance(0.001)
        if i % 500 == 499:
            venue.cancel_all()
    await engine.stop()
    print(f"approve -> broker.submit over {n} approvals (sim venue, full-sync write-ahead):")
    print(
        f"  p50 {pct(overhead, 50):.3f} ms  p99 {pct(overhead, 99):.3f} ms  "
        f"max {max(overhead):.3f} ms  mean {statistics.fmean(overhead):.3f} ms"
    )
    del redeem_to_submit


def audit_throughput(directory: Path, n: int) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--approvals", type=int, default=10_000)
    parser.add_argument("--beads", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(approve_to_submit(args.approvals, Path(tmp)))
    with tempfile.TemporaryDirectory() as tmp:
        audit_throughput(Path(tmp), args.beads)


if __name__ == "__main__":
    main()
