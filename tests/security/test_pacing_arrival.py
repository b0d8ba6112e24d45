"""An honest client is never punished for the gateway's own slowness: requests count on arrival."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from broker.gateway.codec import decode_fields, encode_fields, encode_message, frame
from broker.gateway.ids import In
from broker.gateway.server import GatewayServer
from broker.gateway.testing import running_gateway
from tests.support import eventually

BURST = 45
MAX_RATE = "100"


class BlockingClient:
    """A TWS-protocol client on its own thread: it sends on its own schedule, whatever the
    gateway's event loop is doing."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, *fields: object) -> None:
        self.sock.sendall(encode_message(list(fields)))  # type: ignore[arg-type]

    def next_frame(self) -> list[str]:
        while True:
            if len(self.buffer) >= 4:
                size = int.from_bytes(self.buffer[:4], "big")
                if len(self.buffer) >= 4 + size:
                    payload, self.buffer = self.buffer[4 : 4 + size], self.buffer[4 + size :]
                    return decode_fields(payload)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("gateway closed the socket")
            self.buffer += chunk

    def start(self) -> None:
        self.sock.sendall(b"API\0" + frame(encode_fields(["v157..176"])))
        self.next_frame()  # version, time
        self.send(In.START_API, 2, 31, "")

    def bursts(self, schedule: list[tuple[float, int]]) -> None:
        """At each offset (s from now), `count` reqCurrentTime requests back to back."""
        started = time.monotonic()
        for at, count in schedule:
            time.sleep(max(0.0, started + at - time.monotonic()))  # the client's own schedule
            self.sock.sendall(
                b"".join(encode_message([In.REQ_CURRENT_TIME, 1]) for _ in range(count))
            )

    def answers(self, expected: int) -> list[list[str]]:
        """Frames up to the `expected`-th currentTime answer (or an error 100)."""
        frames, times = [], 0
        while times < expected:
            fields = self.next_frame()
            frames.append(fields)
            times += fields[0] == "49"
            if fields[0] == "4" and fields[3:4] == [MAX_RATE]:
                break
        return frames


def stall_on(server: GatewayServer, nth: int, seconds: float) -> None:
    """The gateway is busy for `seconds` on the `nth` reqCurrentTime (a loaded machine)."""
    (session,) = server.sessions
    handler: Callable[[list[str]], None] = session._handlers[In.REQ_CURRENT_TIME]
    served = 0

    def slow(fields: list[str]) -> None:
        nonlocal served
        served += 1
        if served == nth:
            time.sleep(seconds)  # blocks the gateway's loop, as a busy TWS thread would
        handler(fields)

    session._handlers[In.REQ_CURRENT_TIME] = slow


async def test_a_burst_the_gateway_processes_late_counts_in_the_second_it_arrived() -> None:
    async with running_gateway(seed=3) as server:
        client = BlockingClient(server.port)
        await asyncio.to_thread(client.start)
        await eventually(lambda: any(s.ready for s in server.sessions))
        stall_on(server, 2, 0.6)  # the first request of the first burst
        # 1 request, then 45 at 0.5 s, then 45 at 1.55 s: never more than 46 in any second
        schedule = [(0.0, 1), (0.5, BURST), (1.55, BURST)]
        sending = asyncio.to_thread(client.bursts, schedule)
        frames = await asyncio.gather(sending, asyncio.to_thread(client.answers, 1 + 2 * BURST))
        client.sock.close()
    errors = [f for f in frames[1] if f[0] == "4" and f[3:4] == [MAX_RATE]]
    assert errors == []
    assert sum(f[0] == "49" for f in frames[1]) == 1 + 2 * BURST
