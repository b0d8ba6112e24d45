"""The benchmarks' gateway in its own process: TWS protocol on loopback, venue truth on stdio.

The order benchmark's client side (engine, adapter, raw ib_async) runs in the bench process;
sharing one event loop with the gateway would let a stall on either side bunch the other's
messages (the gateway would count a late-read burst as sent at once) and add the gateway's own
work to every latency measured. Here the gateway reads on its own loop, as TWS does.

Protocol: the child prints its port on the first stdout line, then answers one JSON line per
command line on stdin: `open` (open orders at the venue), `cancel_all` (the venue cancels every
order, as if typed in TWS), `pacing` (requests refused for pacing, the busiest window, requests
received per client id), `empty_at` (time.monotonic() when the venue last became empty of open
orders, or null), `quit`.

Run (by the benchmark): python -m tests.bench.gateway_process [--seed 7] [--quote-rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from broker.gateway.server import GatewayServer
from broker.gateway.testing import running_gateway
from broker.sim import QuoteStreamer
from broker.sim.events import VenueEvent, VenueOrderEvent


class VenueWatch:
    """When the venue last became empty of open orders (monotonic, comparable across processes)."""

    def __init__(self, server: GatewayServer) -> None:
        self.empty_at: float | None = None
        self._open: set[int] = set()
        """Open orders by permId, kept per event (listing the venue per event would cost the
        gateway more than the cancels themselves)."""
        server.venue.subscribe(self.on_event)

    def on_event(self, event: VenueEvent) -> None:
        if not isinstance(event, VenueOrderEvent):
            return
        if event.order.is_open:
            self._open.add(event.order.perm_id)
            self.empty_at = None
        elif event.order.perm_id in self._open:
            self._open.discard(event.order.perm_id)
            if not self._open:
                self.empty_at = time.monotonic()


def answer(server: GatewayServer, watch: VenueWatch, command: str) -> dict[str, Any]:
    if command == "open":
        return {"open": len(server.venue.orders(open_only=True))}
    if command == "cancel_all":
        return {"cancelled": len(server.venue.cancel_all())}
    if command == "pacing":
        busiest = max((s.pacer.busiest_window for s in server.sessions), default=0)
        received = {s.client_id: s.pacer.received for s in server.sessions if s.ready}
        return {"refused": server.pacing_refused, "busiest_window": busiest, "received": received}
    if command == "empty_at":
        return {"empty_at": watch.empty_at}
    return {"error": f"unknown command {command!r}"}


async def serve(seed: int, quote_rate: float) -> None:
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    async with running_gateway(seed=seed) as server:
        watch = VenueWatch(server)
        streamer = QuoteStreamer(server.venue, rate=quote_rate)
        streamer.start()
        print(server.port, flush=True)
        try:
            while line := (await commands.readline()).decode().strip():
                if line == "quit":
                    break
                print(json.dumps(answer(server, watch, line)), flush=True)
        finally:
            await streamer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quote-rate", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(serve(args.seed, args.quote_rate))


if __name__ == "__main__":
    main()
