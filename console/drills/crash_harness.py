"""Crash-recovery harness: `kill -9` the engine at each crash point, restart, check the venue.

For every crash point and every run: a fresh gateway (venue) in this process, an engine +
IbkrBroker child armed with `DESKGATE_CRASH_AT=<point>:<n>` that proposes and approves three
orders until it SIGKILLs itself, then a clean child on the same data dir that only runs
`Engine.start()` (rebuild from the audit store, recovery by orderRef/permId, reconcile) and
stops. The audit store is then replayed here and compared with the venue:

* duplicates        an orderRef placed more than once, or any order placed after the crash
* lost orders       a venue order the engine does not know, or open at the venue while the
                    engine holds it finished
* lost fills        a venue execution of ours that the engine has not recorded
* unresolved        an intent left APPROVED, or SUBMITTED/STALLED without broker truth
* integrity check   SQLite `PRAGMA integrity_check`
* hash chain        `AuditStore.verify()`

Children are forked from a pre-imported fork server, so a crash run costs ~0.1 s.
Run: `python -m console.drills.crash_harness --per-point 50 --out CRASH_HARNESS.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from contracts.broker import parse_order_ref
from contracts.config import Config
from contracts.enums import LifecycleState, OrderLeg, OrderType, Side
from contracts.intent import CheckResult, Evidence, Instrument, Intent, OrderParams
from engine import crashpoints
from engine.audit import AuditStore
from engine.book import Book

CLIENT_ID = 5
ACCOUNT = "DU1234567"
INTENTS_PER_RUN = 3
CHILD_TIMEOUT_S = 20.0
SYMBOL = "AAPL"


# --- the children (run in forked processes) ----------------------------------------------------


def harness_config(data_dir: Path, port: int) -> Config:
    """Defaults, with room for a few orders in a row and the gateway's port."""
    base = Config()
    return base.model_copy(
        update={
            "data_dir": str(data_dir),
            "broker": base.broker.model_copy(update={"port": port, "client_id": CLIENT_ID}),
            "risk": base.risk.model_copy(
                update={"max_trades_per_day": 1000, "duplicate_window_s": 0.0}
            ),
        }
    )


def harness_intent(intent_id: str, ask: Decimal, quantity: int, now: datetime) -> Intent:
    """A marketable limit buy with a bracket stop 10 ticks under the entry."""
    limit = ask + Decimal("0.05")
    return Intent(
        intent_id=intent_id,
        strategy="crash-harness",
        order=OrderParams(
            instrument=Instrument(symbol=SYMBOL, primary_exchange="NASDAQ"),
            side=Side.BUY,
            quantity=Decimal(quantity),
            order_type=OrderType.LIMIT,
            limit_price=limit,
            stop_loss=limit - Decimal("0.10"),
        ),
        state_hash="crash-harness",
        state_ts=now,
        evidence=Evidence(
            setup_quality=60,
            htf_alignment=True,
            ltf_alignment=True,
            red_checks=(CheckResult(name="harness", passed=True),),
        ),
    )


async def _run_engine(port: int, data_dir: str, run: str, ask: str, trade: bool) -> None:
    from broker.ibkr.adapter import IbkrBroker
    from engine.engine import Engine

    config = harness_config(Path(data_dir), port)
    broker = IbkrBroker("127.0.0.1", port, CLIENT_ID, connect_timeout_s=5, request_timeout_s=5)
    engine = Engine(config, broker, data_dir=Path(data_dir))
    await engine.start()
    try:
        if trade:
            for k in range(INTENTS_PER_RUN):
                intent = harness_intent(f"{run}-{k}", Decimal(ask), 10 + k, engine.clock.now())
                offered = await engine.propose(intent)
                if not offered.accepted:
                    drifts = "; ".join(
                        f"{d.drift_type} {d.subject} {d.engine_state} / {d.broker_state}"
                        for d in engine.book.drifts.values()
                    )
                    raise SystemExit(f"harness intent refused: {offered.message} ({drifts})")
                result = await engine.approve(
                    intent.intent_id, engine.pending_token(intent.intent_id) or ""
                )
                if not result.ok:
                    raise SystemExit(f"harness approval refused: {result.message}")
                await _poll(partial(_filled, engine.book, intent.intent_id), 5.0)
            await asyncio.sleep(0.5)  # the crash point was not reached: the parent reports it
        else:
            await _poll(lambda: _settled(engine.book), 5.0)
            await asyncio.sleep(0.2)  # late resync events and the start-up reconcile
    finally:
        await engine.stop()
        engine.store.close()


async def _poll(predicate: Callable[[], object], limit_s: float) -> bool:
    """Check `predicate` every few milliseconds for up to `limit_s` seconds."""
    deadline = time.monotonic() + limit_s
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)


def _filled(book: Book, intent_id: str) -> bool:
    rec = book.records[intent_id]
    return rec.entry_filled >= rec.requested


def _settled(book: Book) -> bool:
    return not _unresolved(book, open_refs=None)


def _child(port: int, data_dir: str, run: str, ask: str, crash_at: str) -> None:
    """Entry point of a forked child: arm the crash point (or not) and run an engine."""
    logging.disable(logging.WARNING)  # the adapter's session notices, once per child
    os.environ.pop(crashpoints.ENV, None)
    if crash_at:
        os.environ[crashpoints.ENV] = crash_at
    import importlib

    importlib.reload(crashpoints)  # the fork server imported it unarmed
    asyncio.run(_run_engine(port, data_dir, run, ask, trade=bool(crash_at)))


# --- the checks (run here, against the venue) --------------------------------------------------


@dataclass
class RunResult:
    crashed: bool = False
    duplicates: int = 0
    lost_orders: int = 0
    lost_fills: int = 0
    unresolved: int = 0
    integrity_ok: bool = True
    chain_ok: bool = True
    problems: list[str] = field(default_factory=list)


@dataclass
class PointResult:
    point: str
    runs: int = 0
    crashes: int = 0
    duplicates: int = 0
    lost_orders: int = 0
    lost_fills: int = 0
    unresolved: int = 0
    integrity_failures: int = 0
    chain_failures: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, run: RunResult) -> None:
        self.runs += 1
        self.crashes += run.crashed
        self.duplicates += run.duplicates
        self.lost_orders += run.lost_orders
        self.lost_fills += run.lost_fills
        self.unresolved += run.unresolved
        self.integrity_failures += not run.integrity_ok
        self.chain_failures += not run.chain_ok
        self.problems.extend(run.problems)

    @property
    def ok(self) -> bool:
        return (
            self.crashes == self.runs
            and not (self.duplicates or self.lost_orders or self.lost_fills or self.unresolved)
            and not (self.integrity_failures or self.chain_failures)
        )


def _unresolved(book: Book, open_refs: set[str] | None) -> list[str]:
    """Intents without broker truth: APPROVED, unacked SUBMITTED, working but not at the venue."""
    out = []
    for rec in book.records.values():
        iid = rec.intent.intent_id
        if rec.state is LifecycleState.APPROVED:
            out.append(f"{iid} left APPROVED")
        elif rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED):
            if rec.acked_at is None and not rec.entry_filled:
                out.append(f"{iid} {rec.state} without a broker ack")
            elif open_refs is not None and rec.order_ref not in open_refs:
                out.append(f"{iid} {rec.state} but not working at the venue")
    return out


def check_run(data_dir: Path, venue: object, placed_before_crash: int) -> RunResult:
    """Replay the audit store and compare it with the venue."""
    from broker.sim.venue import SimVenue

    assert isinstance(venue, SimVenue)
    result = RunResult()
    path = data_dir / "audit.sqlite"
    conn = sqlite3.connect(str(path))
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    result.integrity_ok = integrity == "ok"
    if not result.integrity_ok:
        result.problems.append(f"integrity_check: {integrity}")
    store = AuditStore(path)
    try:
        report = store.verify()
        result.chain_ok = report.ok and report.checked > 0
        result.problems.extend(report.problems)
        book = Book()
        for event in store.events():
            book.apply(event)
    finally:
        store.close()

    orders = venue.orders(ACCOUNT)
    by_ref: dict[str, int] = {}
    for order in orders:
        by_ref[order.order_ref] = by_ref.get(order.order_ref, 0) + 1
    resent = len(orders) - placed_before_crash
    result.duplicates = sum(n - 1 for n in by_ref.values()) + max(0, resent)
    if result.duplicates:
        result.problems.append(f"duplicates: {by_ref}, {resent} placed after the crash")

    open_refs = {o.order_ref for o in orders if o.is_open}
    for order in orders:
        parsed = parse_order_ref(order.order_ref)
        rec = book.records.get(parsed[0]) if parsed else None
        if rec is None or parsed is None:
            result.lost_orders += 1
            result.problems.append(f"venue order {order.order_ref} unknown to the engine")
            continue
        if not order.is_open:
            continue
        leg = parsed[1]
        entry = leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN)
        entry_working = rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED)
        exits_working = entry_working or rec.state is LifecycleState.MANAGED
        working = entry_working if entry else exits_working
        if not working:
            result.lost_orders += 1
            result.problems.append(f"{order.order_ref} open at the venue, engine {rec.state}")

    recorded = book.seen_exec_ids
    for execution in venue.executions(ACCOUNT):
        if execution.exec_id not in recorded:
            result.lost_fills += 1
            result.problems.append(f"execution {execution.exec_id} ({execution.order_ref}) lost")
    for rec in book.records.values():
        venue_filled = sum((o.filled for o in orders if o.order_ref == rec.order_ref), Decimal(0))
        if rec.order_ref and rec.filled.get(OrderLeg.ENTRY, Decimal(0)) != venue_filled:
            result.lost_fills += 1
            result.problems.append(
                f"{rec.intent.intent_id}: engine filled {rec.entry_filled}, venue {venue_filled}"
            )

    unresolved = _unresolved(book, open_refs)
    result.unresolved = len(unresolved)
    result.problems.extend(unresolved)
    return result


# --- the parent ----------------------------------------------------------------------------------


def fork_context(preload: Sequence[str] = ()) -> ForkServerContext:
    """A fork server that has imported the engine, the adapter and ib_async once.

    `preload` adds modules every child would otherwise import for itself: a child re-runs the
    main script (multiprocessing's `__main__` preload does not take on Python 3.11), so under
    pytest each one imports pytest again unless the fork server did. The first call in a
    process starts the server: its list is the one that counts.
    """
    ctx = multiprocessing.get_context("forkserver")
    assert isinstance(ctx, ForkServerContext)
    ctx.set_forkserver_preload(
        ["broker.ibkr.adapter", "broker.gateway.testing", "engine.engine", "ib_async", *preload]
    )
    return ctx


async def _join(proc: BaseProcess, limit_s: float) -> int | None:
    """Wait for a child to end; kill it after `limit_s`. Returns its exit code (None: hung)."""
    if not await _poll(lambda: not proc.is_alive(), limit_s):
        proc.kill()
        proc.join(1)
        return None
    return proc.exitcode


async def crash_once(ctx: ForkServerContext, point: str, n: int, run: str, root: Path) -> RunResult:
    """One crash run: fresh venue and data dir, crash at `point:n`, recover, check."""
    from broker.gateway.testing import running_gateway

    data_dir = root / run
    data_dir.mkdir(parents=True)
    async with running_gateway(seed=n) as gateway:
        venue = gateway.venue
        quote = venue.quote(SYMBOL)
        if point == "after_partial_fill":
            gateway.faults.partial_fill_next_orders(2 * INTENTS_PER_RUN)  # entry + stop each
        crash_at = f"{point}:{n}"
        child = ctx.Process(
            target=_child,
            args=(gateway.port, str(data_dir), run, str(quote.ask), crash_at),
            daemon=True,
        )
        child.start()

        def alive() -> bool:
            # re-show the same price so partially filled orders complete on the next quote
            venue.set_price(SYMBOL, quote.bid, quote.ask)
            return not child.is_alive()

        await _poll(alive, CHILD_TIMEOUT_S)
        code = await _join(child, 0.1)
        result = RunResult(crashed=code == -signal.SIGKILL)
        if not result.crashed:
            result.problems.append(f"{run}: crash point {crash_at} not reached (exit {code})")
        placed = len(venue.orders(ACCOUNT))
        await _poll(lambda: CLIENT_ID not in gateway.connected_clients(), 5.0)
        recovery = ctx.Process(
            target=_child, args=(gateway.port, str(data_dir), run, str(quote.ask), "")
        )
        recovery.start()
        code = await _join(recovery, CHILD_TIMEOUT_S)
        if code != 0:
            result.problems.append(f"{run}: recovery child exited with {code}")
            result.unresolved += 1
        checked = check_run(data_dir, venue, placed)
    checked.crashed = result.crashed
    checked.problems = result.problems + checked.problems
    checked.unresolved += result.unresolved
    return checked


async def run_harness(
    per_point: int,
    points: Sequence[str] = crashpoints.POINTS,
    root: Path | None = None,
    *,
    concurrency: int = 4,
    preload: Sequence[str] = (),
) -> list[PointResult]:
    """Crash `per_point` times at each point; the n-th run of a point crashes at hit n%3+1.

    Up to `concurrency` runs go at once, each with its own venue, gateway and data dir.
    `preload`: more modules for the fork server (see `fork_context`).
    """
    ctx = fork_context(preload)
    own_root = root is None
    base = root or Path(tempfile.mkdtemp(prefix="deskgate-crash-"))
    slots = asyncio.Semaphore(max(1, concurrency))

    async def one(point: str, i: int) -> RunResult:
        async with slots:
            run = f"{point.replace('_', '')}-{i:03d}"
            return await crash_once(ctx, point, i % INTENTS_PER_RUN + 1, run, base)

    results = []
    try:
        for point in points:
            summary = PointResult(point)
            started = time.monotonic()
            for run_result in await asyncio.gather(*(one(point, i) for i in range(per_point))):
                summary.add(run_result)
            summary.seconds = time.monotonic() - started
            results.append(summary)
    finally:
        if own_root:
            shutil.rmtree(base, ignore_errors=True)
    return results


def results_json(results: Sequence[PointResult], started: datetime, seconds: float) -> str:
    """The harness result as JSON, for the go-live gates (`--out CRASH_HARNESS.json`)."""
    points = [
        {
            "point": r.point,
            "runs": r.runs,
            "crashes": r.crashes,
            "duplicates": r.duplicates,
            "lost_orders": r.lost_orders,
            "lost_fills": r.lost_fills,
            "unresolved": r.unresolved,
            "integrity_failures": r.integrity_failures,
            "chain_failures": r.chain_failures,
            "seconds": round(r.seconds, 2),
            "ok": r.ok,
        }
        for r in results
    ]
    return json.dumps(
        {
            "started": started.isoformat(timespec="seconds"),
            "seconds": round(seconds, 1),
            "per_point": min((r.runs for r in results), default=0),
            "crashes": sum(r.crashes for r in results),
            "ok": all(r.ok for r in results),
            "points": points,
        },
        indent=2,
    )


def format_table(results: Sequence[PointResult]) -> str:
    """The harness table, one row per crash point."""
    head = (
        "| crash point | crashes | duplicates | lost orders | lost fills | unresolved intents "
        "| integrity check | hash chain | time |"
    )
    rule = "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |"
    rows = [head, rule]
    for r in results:
        rows.append(
            f"| {r.point} | {r.crashes}/{r.runs} | {r.duplicates} | {r.lost_orders} "
            f"| {r.lost_fills} | {r.unresolved} "
            f"| {'ok' if not r.integrity_failures else f'{r.integrity_failures} FAILED'} "
            f"| {'verified' if not r.chain_failures else f'{r.chain_failures} BROKEN'} "
            f"| {r.seconds:.1f} s |"
        )
    total = sum(r.runs for r in results)
    rows.append("")
    rows.append(
        f"{total} crashes: duplicates {sum(r.duplicates for r in results)}, "
        f"lost orders {sum(r.lost_orders for r in results)}, "
        f"lost fills {sum(r.lost_fills for r in results)}, "
        f"unresolved intents {sum(r.unresolved for r in results)}, "
        f"integrity check {'ok' if not any(r.integrity_failures for r in results) else 'FAILED'}, "
        f"hash chain {'verified' if not any(r.chain_failures for r in results) else 'BROKEN'}"
    )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m console.drills.crash_harness", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--per-point", type=int, default=50, help="crashes per crash point")
    parser.add_argument(
        "--point", action="append", choices=crashpoints.POINTS, help="only these points"
    )
    parser.add_argument("--verbose", action="store_true", help="print every problem found")
    parser.add_argument("--concurrency", type=int, default=4, help="crash runs at once")
    parser.add_argument("--out", type=Path, help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    results = asyncio.run(
        run_harness(args.per_point, args.point or crashpoints.POINTS, concurrency=args.concurrency)
    )
    print(format_table(results))
    elapsed = (datetime.now(UTC) - started) / timedelta(seconds=1)
    print(f"(run {started:%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s)")
    if args.out is not None:
        args.out.write_text(results_json(results, started, elapsed) + "\n", encoding="utf-8")
        print(f"result written to {args.out}")
    problems = [p for r in results for p in r.problems]
    if args.verbose or problems:
        for problem in problems[:50]:
            print(f"  - {problem}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
