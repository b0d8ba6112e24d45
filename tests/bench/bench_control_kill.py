"""`deskgate kill` from another process -> broker-confirmed zero working orders (issue #13).

The engine runs on the real IbkrBroker against the TWS-protocol gateway on loopback (INSTANT
venue, quotes stepped at 20/s), with its control socket; N entries rest 1.5 % under the bid
(each with its stop child at the venue). Each run spawns `python -m console.cli kill` as a
second shell would and times, on this process's clock:

  spawn -> HALTED         the CLI starting, connecting, and the engine applying the kill
  HALTED -> confirmed     the engine's global cancel until the broker reports nothing working
  spawn -> CLI exits      what the trader waits for: the command prints the confirmation

Run: .venv/bin/python -m tests.bench.bench_control_kill [--orders 100] [--runs 3]
     [--client cli|light] [--json PATH] [--smoke]
Figures (`--json`): control_kill_spawn_to_halted_median_ms, control_kill_halted_to_confirmed_
median_ms, control_kill_spawn_to_cli_exit_median_ms and the same three as _max_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from broker.gateway.testing import running_gateway
from broker.sim import QuoteStreamer
from contracts.enums import TradingState
from contracts.events import KillConfirmation, TradingStateChanged
from engine.bus import Subscription
from engine.control import CONTROL_SOCKET, ControlServer
from tests.bench.bench_gateway_orders import AAPL, Desk, clear_venue
from tests.bench.report import add_output_args, table, write_figures

CLIENTS = {"cli": "console.cli", "light": "console.control_client"}


class Stamps:
    """Drains the engine's bus and stamps the kill's HALT and its broker confirmation."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.halted: float | None = None
        self.confirmed: float | None = None

    async def run(self) -> None:
        while True:
            item = await self.subscription.get()
            now = time.perf_counter()
            if isinstance(item, TradingStateChanged) and item.current is TradingState.HALTED:
                self.halted = self.halted or now
            if isinstance(item, KillConfirmation) and item.confirmed:
                self.confirmed = self.confirmed or now


async def rest_orders(desk: Desk, n: int, run: int) -> int:
    """Place entries until n rest acknowledged at the venue (not timed).

    Approvals are spaced (about 16 brackets/s, under the gateway's 50 msgs/s) because on a busy
    machine a burst can still draw error 100; an order refused that way is replaced."""
    ids: list[str] = []
    deadline = time.perf_counter() + 180
    while True:
        book = desk.engine.book
        alive = [i for i in ids if not book.records[i].state.is_terminal]
        if len(alive) >= n and all(i in desk.acked for i in alive):
            return len(book.working())
        assert time.perf_counter() < deadline, f"{len(alive)} of {n} resting orders acked"
        if len(alive) < n:
            iid = await desk.propose(f"ctl{run}")
            assert await desk.approve(iid), "approve failed"
            ids.append(iid)
        await asyncio.sleep(0.06)


async def one_kill(desk: Desk, directory: Path, run: int, n: int, module: str) -> dict[str, float]:
    engine = desk.engine
    if engine.book.trading_state is not TradingState.ACTIVE:
        assert (await engine.rearm(f"bench run {run}", actor="bench")).ok
    working = await rest_orders(desk, n, run)
    stamps = Stamps(engine.bus.subscribe(maxsize=100_000))
    drain = asyncio.get_running_loop().create_task(stamps.run())
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "kill",
        "--reason",
        f"bench run {run}",
        "--data-dir",
        str(directory),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    exited = time.perf_counter()
    drain.cancel()
    stamps.subscription.close()
    assert proc.returncode == 0, (out + err).decode()
    assert stamps.halted is not None and stamps.confirmed is not None
    row = {
        "working": float(working),
        "spawn_to_halted_ms": (stamps.halted - t0) * 1000,
        "halted_to_confirmed_ms": (stamps.confirmed - stamps.halted) * 1000,
        "spawn_to_cli_exit_ms": (exited - t0) * 1000,
    }
    print(
        f"  run {run + 1}: {working} working -> HALTED {row['spawn_to_halted_ms']:.0f} ms, "
        f"confirmed +{row['halted_to_confirmed_ms']:.0f} ms, "
        f"CLI printed and exited {row['spawn_to_cli_exit_ms']:.0f} ms"
    )
    return row


async def run(args: argparse.Namespace) -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="dg-ctl-"))
    rows: list[dict[str, float]] = []
    try:
        async with running_gateway(seed=7) as server:
            streamer = QuoteStreamer(server.venue, rate=20.0)
            streamer.start()
            desk = Desk(server, directory)
            control = ControlServer(directory / CONTROL_SOCKET, desk.engine)
            await desk.engine.start()
            await control.start()
            try:
                assert await desk.engine.watch_quote(AAPL) is not None, "no quote"
                for i in range(args.runs):
                    await clear_venue(server, desk)
                    module = CLIENTS[args.client]
                    rows.append(await one_kill(desk, directory, i, args.orders, module))
            finally:
                await control.stop()
                await desk.engine.stop()
                await streamer.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    figures: dict[str, float] = {}
    for key in ("spawn_to_halted", "halted_to_confirmed", "spawn_to_cli_exit"):
        samples = [r[f"{key}_ms"] for r in rows]
        figures[f"control_kill_{key}_median_ms"] = statistics.median(samples)
        figures[f"control_kill_{key}_max_ms"] = max(samples)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100, help="resting entries per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="cli",
        help="cli: the full `deskgate` command line; light: console.control_client alone",
    )
    add_output_args(parser)
    args = parser.parse_args()
    if args.smoke:
        args.orders, args.runs = 3, 1
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)  # per-order 202s on the kill
    print(
        f"python -m {CLIENTS[args.client]} kill from another process, "
        f"{args.orders} working, {args.runs} run(s):"
    )
    figures = asyncio.run(run(args))
    table(
        f"`{CLIENTS[args.client]} kill` -> broker-confirmed zero working ({args.orders})",
        {k: f"{v:8.1f} ms" for k, v in figures.items()},
    )
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
