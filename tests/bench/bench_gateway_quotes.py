"""Gateway benchmark: quote updates/s from the streamer to a real ib_async client over loopback.

Run: .venv/bin/python -m tests.bench.bench_gateway_quotes [--rate 1000] [--seconds 3] [--json PATH]
     [--smoke]

Figures (`--json`): venue_updates_per_s, client_ticks_per_s.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from ib_async import IB, Stock

from broker.gateway import running_gateway
from broker.sim import QuoteStreamer
from tests.bench.report import add_output_args, write_figures


async def run(rate: float, seconds: float) -> dict[str, float]:
    async with running_gateway(seed=1) as server:
        ib = IB()
        await ib.connectAsync("127.0.0.1", server.port, clientId=1, raiseSyncErrors=True)
        contracts = await ib.qualifyContractsAsync(
            *[Stock(s.symbol, "SMART", "USD") for s in server.venue.symbols() if not s.is_future]
        )
        tickers = [ib.reqMktData(c) for c in contracts]
        updates = 0

        def on_pending(batch: set[object]) -> None:
            nonlocal updates
            updates += sum(len(t.ticks) for t in tickers if t in batch)  # type: ignore[attr-defined]

        ib.pendingTickersEvent += on_pending
        streamer = QuoteStreamer(server.venue, rate=rate)
        start = time.perf_counter()
        streamer.start()
        await asyncio.sleep(seconds)
        await streamer.stop()
        elapsed = time.perf_counter() - start
        ib.disconnect()
    print(
        f"venue quote updates: {streamer.updates} in {elapsed:.2f}s "
        f"= {streamer.updates / elapsed:,.0f}/s (target {rate:,.0f}/s)"
    )
    print(
        f"ticks received by ib_async: {updates:,} = {updates / elapsed:,.0f}/s "
        "(bid, ask, last, volume per quote update)"
    )
    return {
        "venue_updates_per_s": streamer.updates / elapsed,
        "client_ticks_per_s": updates / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    add_output_args(parser)
    args = parser.parse_args()
    if args.smoke:
        args.rate, args.seconds = 50.0, 0.3
    write_figures(args.json, asyncio.run(run(args.rate, args.seconds)))


if __name__ == "__main__":
    main()
