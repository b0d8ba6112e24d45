"""A tiny TWS replay server: answers each client request with the frames a real TWS sent.

The capture (`fixtures/tws-v176-capture/request_response.json`) maps a request key
`<msgId>_<second field>` to the socket reads TWS answered with. Request ids inside the
answers (account-updates-multi, executions, account summary) are rewritten to the ids the
client actually used.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import TWS_CAPTURE

CAPTURE = TWS_CAPTURE
CAPTURE_ACCOUNT = "DU5509097"

# requests whose answers carry the client's reqId in field 2
_REQ_ID_KEYS = {"76_1", "7_3", "62_1"}
_REQ_ID_MSGS = {"73", "74", "55", "63", "64"}

DEFAULT_KEYS = frozenset(
    {"API_", "71_2", "61_1", "5_1", "16_1", "99_0", "6_2", "76_1", "7_3", "62_1"}
)
"""Requests answered by default: the connect and account sequence (not the whatIf orders)."""

CLIENT_ID_IN_USE = [
    "4",
    "2",
    "-1",
    "326",
    "Unable to connect as the client id is already in use. Retry with a unique client id.",
    "",
]


def load_capture(path: Path = CAPTURE) -> dict[str, list[list[str]]]:
    """The capture as request key -> list of frames, each a list of string fields."""
    raw = json.loads(path.read_text())
    result: dict[str, list[list[str]]] = {}
    for key, reads in raw.items():
        data = b"".join(base64.b64decode(chunk) for chunk in reads)
        frames = []
        pos = 0
        while pos + 4 <= len(data):
            (size,) = struct.unpack(">I", data[pos : pos + 4])
            body = data[pos + 4 : pos + 4 + size]
            frames.append(body.decode().split("\0")[:-1])
            pos += 4 + size
        result[key] = frames
    if "5_1" in result:
        # reqAllOpenOrders (16) is answered with the same openOrder... openOrderEnd frames as
        # reqOpenOrders; the capture's account has no order of any client
        result.setdefault("16_1", result["5_1"])
    return result


def encode(fields: list[str]) -> bytes:
    body = "".join(f"{f}\0" for f in fields).encode()
    return struct.pack(">I", len(body)) + body


@dataclass
class Received:
    key: str
    fields: list[str]
    at: float


@dataclass
class ReplayServer:
    """Serve the capture on a loopback port.

    Args:
        account: replace the capture's account id everywhere (to test refusals).
        keys: the request keys to answer.
        client_id_in_use: answer startApi with error 326 and close, like TWS does.
    """

    account: str = CAPTURE_ACCOUNT
    keys: frozenset[str] = DEFAULT_KEYS
    client_id_in_use: bool = False
    refuse: bool = False
    """Close new connections at once (TWS down / restarting)."""
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    _frames: dict[str, list[list[str]]] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> None:
        self._frames = load_capture()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_connections(self) -> None:
        """Close every client socket (the client sees the peer go away)."""
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    def keys_received(self) -> list[str]:
        return [r.key for r in self.received]

    def send_to_all(self, fields: list[str]) -> None:
        """Push one unsolicited frame (an error code, say) to every connected client."""
        for writer in self._writers:
            writer.write(encode(fields))

    def _answer(self, key: str, request: list[str]) -> list[bytes]:
        if key not in self.keys:
            return []
        out = []
        for frame in self._frames.get(key, []):
            fields = [f.replace(CAPTURE_ACCOUNT, self.account) for f in frame]
            if key in _REQ_ID_KEYS and fields[0] in _REQ_ID_MSGS and len(request) > 2:
                fields[2] = request[2]
            out.append(encode(fields))
        return out

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.close()
            return
        self.connections += 1
        self._writers.append(writer)
        try:
            prefix = await reader.readexactly(4)
            assert prefix == b"API\0", prefix
            version = await self._read_frame(reader)
            self.received.append(Received("API_", version, time.monotonic()))
            for frame in self._answer("API_", version):
                writer.write(frame)
            while True:
                fields = await self._read_frame(reader)
                key = f"{fields[0]}_{fields[1] if len(fields) > 1 else ''}"
                self.received.append(Received(key, fields, time.monotonic()))
                if key == "71_2" and self.client_id_in_use:
                    writer.write(encode(CLIENT_ID_IN_USE))
                    await writer.drain()
                    writer.close()
                    return
                for frame in self._answer(key, fields):
                    writer.write(frame)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the server is shutting down
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _read_frame(reader: asyncio.StreamReader) -> list[str]:
        (size,) = struct.unpack(">I", await reader.readexactly(4))
        body = await reader.readexactly(size)
        return body.decode(errors="replace").split("\0")[:-1]
