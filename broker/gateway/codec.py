"""TWS wire framing: 4-byte big-endian length prefix, NUL-terminated text fields."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable
from decimal import Decimal

MAX_FRAME = 1024 * 1024
"""Largest request a client may send; a real client's biggest (placeOrder) is a few KiB."""
UNSET_DOUBLE = "1.7976931348623157E308"
UNSET_INTEGER = "2147483647"

Field = str | int | float | Decimal | bool | None


class ProtocolError(Exception):
    """The peer sent something that is not the TWS protocol."""


def fmt(value: Field) -> str:
    """One field as TWS writes it: bools 1/0, None empty, Decimals without exponent."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".") or "0"
        return text
    return str(value)


def fmt_price(value: Decimal | None) -> str:
    """A price or amount the way TWS prints doubles (`0.0` when unset on orders)."""
    if value is None:
        return "0.0"
    text = fmt(value)
    return text if "." in text else f"{text}.0"


def encode_fields(fields: Iterable[Field]) -> bytes:
    """The payload of one message (each field NUL-terminated), without the length prefix."""
    return b"".join(fmt(f).encode() + b"\0" for f in fields)


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def encode_message(fields: Iterable[Field]) -> bytes:
    """A complete framed message ready for the socket."""
    return frame(encode_fields(fields))


def decode_fields(payload: bytes) -> list[str]:
    """Split one message payload into its text fields (drops the final terminator)."""
    parts = payload.decode(errors="backslashreplace").split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def split_frames(data: bytes) -> tuple[list[bytes], bytes]:
    """Cut a byte buffer into complete frame payloads; returns (payloads, leftover)."""
    payloads = []
    while len(data) >= 4:
        (size,) = struct.unpack(">I", data[:4])
        if len(data) < 4 + size:
            break
        payloads.append(data[4 : 4 + size])
        data = data[4 + size :]
    return payloads, data


async def read_frame(
    reader: asyncio.StreamReader, *, max_frame: int = MAX_FRAME, first: bytes = b""
) -> bytes:
    """Read one framed payload (after `first`, header bytes already read); raises
    IncompleteReadError at EOF and ProtocolError, before reading it, for a frame too large."""
    header = first + await reader.readexactly(4 - len(first))
    (size,) = struct.unpack(">I", header)
    if size > max_frame:
        raise ProtocolError(f"frame of {size} bytes is over the {max_frame}-byte cap")
    return await reader.readexactly(size)
