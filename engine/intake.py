"""Intent intake: JSON-lines parsing, the local Unix socket (0600, same uid), strategy plugins."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import math
import os
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from contracts.intent import Intent
from engine.control_wire import peer_uid
from engine.results import ProposalResult

log = logging.getLogger("deskgate.intake")

MAX_LINE = 256 * 1024
REPLY_TIMEOUT_S = 10.0
MAX_JSON_DEPTH = 8
"""An intent is at most 4 levels deep (intent > evidence > red_checks > check); 8 is generous."""
MAX_CONNECTIONS = 4
"""Socket clients at once; more are refused with one line."""
RATE_PER_S = 5.0
RATE_BURST = 10
"""Per connection: intents above this rate are refused unread by the engine, not queued."""


class IntakeError(ValueError):
    """A malformed intent; the message is one line naming what is wrong."""


def parse_intent(text: str | bytes) -> Intent:
    """One intent from JSON text, or IntakeError saying exactly what is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IntakeError(f"not UTF-8 at byte {exc.start}") from None
    data = load_json(text)
    if not isinstance(data, dict):
        raise IntakeError(f"an intent must be a JSON object, not {type(data).__name__}")
    try:
        return Intent.model_validate(data)
    except ValidationError as exc:
        raise IntakeError(describe_validation_error(exc)) from None


def load_json(text: str) -> Any:
    """JSON with only finite numbers and at most MAX_JSON_DEPTH levels, or one-line IntakeError."""
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise IntakeError(f"JSON nested {depth} levels deep (max {MAX_JSON_DEPTH})")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise IntakeError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (strings skipped), without parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise IntakeError(f"not a finite number: {name}")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise IntakeError(f"not a finite number: {printable(literal[:40])}")
    return value


def describe_validation_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(printable(str(p)) for p in first["loc"]) or "intent"
    msg = "unknown field" if first["type"] == "extra_forbidden" else printable(first["msg"])
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {msg}{more}"


def printable(text: str) -> str:
    """Control characters escaped: a field name like "\\n" must not break the one-line error."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def parse_intents(text: str) -> list[Intent]:
    """A whole file: one JSON object, a JSON array, or JSON lines. All or nothing."""
    stripped = text.strip()
    if not stripped:
        raise IntakeError("no intent in the input")
    if stripped.startswith("["):
        items = load_json(stripped)
        return [_numbered(i, json.dumps(item)) for i, item in enumerate(items, 1)]
    lines = [ln for ln in stripped.splitlines() if ln.strip()]
    if len(lines) > 1 and all(ln.lstrip().startswith("{") for ln in lines):
        try:
            return [_numbered(i, ln) for i, ln in enumerate(lines, 1)]
        except IntakeError:
            # Not JSON lines after all: maybe one pretty-printed object.
            with contextlib.suppress(IntakeError):
                return [parse_intent(stripped)]
            raise
    return [parse_intent(stripped)]


def _numbered(n: int, text: str) -> Intent:
    try:
        return parse_intent(text)
    except IntakeError as exc:
        raise IntakeError(f"intent {n}: {exc}") from None


Propose = Callable[[Intent, str], Awaitable[ProposalResult]]


def result_json(result: ProposalResult) -> str:
    return json.dumps(
        {
            "ok": result.accepted,
            "intent_id": result.intent_id,
            "message": result.message,
            "denials": [{"reason": str(d.reason), "detail": d.detail} for d in result.denials],
        }
    )


class IntakeServer:
    """A Unix socket (mode 0600) taking one JSON intent per line, answering one line each.

    Only processes of this user may talk to it (SO_PEERCRED), its directory must be writable by
    nobody else, at most MAX_CONNECTIONS clients at once, each at most RATE_PER_S intents a second.
    """

    def __init__(
        self, path: Path, propose: Propose, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self._propose = propose
        self._monotonic = monotonic
        self._server: asyncio.AbstractServer | None = None
        self._connections = 0

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private_dir(self.path.parent)
        self._server = await listen_unix(self.path, self._handle, MAX_LINE)

    async def stop(self) -> None:
        await close_unix(self._server, self.path)
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        try:
            refusal = self._refusal(writer)
            if refusal:
                writer.write(json.dumps({"ok": False, "message": refusal}).encode() + b"\n")
                await writer.drain()
            else:
                await self._serve(reader, writer)
        except ConnectionError:
            pass
        finally:
            self._connections -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _refusal(self, writer: asyncio.StreamWriter) -> str:
        """Why this client may not propose (empty if it may)."""
        uid = peer_uid(writer.get_extra_info("socket"))
        if uid != os.getuid():
            log.warning("intake: refused a peer with uid %s", uid)
            return f"refused: peer uid {uid} is not this user's ({os.getuid()})"
        if self._connections > MAX_CONNECTIONS:
            return f"refused: {MAX_CONNECTIONS} clients already connected"
        return ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        bucket = RateBucket(RATE_PER_S, RATE_BURST, self._monotonic)
        while True:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                writer.write(b'{"ok": false, "message": "line too long"}\n')
                break
            if not line:
                break
            if not line.strip():
                continue
            if not bucket.take():
                reply = json.dumps(
                    {
                        "ok": False,
                        "intent_id": None,
                        "message": f"rate limit: at most {RATE_PER_S:g} intents/s per connection",
                    }
                )
            else:
                try:
                    intent = parse_intent(line)
                except IntakeError as exc:
                    reply = json.dumps({"ok": False, "intent_id": None, "message": str(exc)})
                else:
                    reply = result_json(await self._propose(intent, "socket"))
            writer.write(reply.encode() + b"\n")
            await writer.drain()


class RateBucket:
    """A token bucket: `burst` at once, refilled at `rate` a second."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._monotonic = monotonic
        self._last = monotonic()

    def take(self) -> bool:
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


async def listen_unix(
    path: Path,
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    limit: int,
) -> asyncio.AbstractServer:
    """Serve `handle` on a Unix socket created 0600 at `path` (the intake and control sockets).

    A stale socket file is replaced; one a live server still answers is refused.
    """
    if _present(path):
        if await _socket_alive(path):
            raise OSError(f"{path}: another deskgate is already listening")
        _remove(path)
    old = os.umask(0o177)  # the socket is created 0600: no window where others can connect
    try:
        server = await asyncio.start_unix_server(handle, path=str(path), limit=limit)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server


async def close_unix(server: asyncio.AbstractServer | None, path: Path) -> None:
    """Stop serving and remove the socket file."""
    if server is not None:
        server.close()
        await server.wait_closed()
    _remove(path)


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def check_private_dir(directory: Path) -> None:
    """Refuse a socket directory that another user owns or that group or others can write."""
    st = directory.stat()
    if st.st_uid != os.getuid():
        raise OSError(f"{directory}: owned by uid {st.st_uid}, not this user; socket refused")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.filemode(st.st_mode)
        raise OSError(f"{directory}: writable by others ({mode}); socket refused")


async def _socket_alive(path: Path) -> bool:
    try:
        _, writer = await asyncio.open_unix_connection(str(path))
    except OSError:
        return False
    writer.close()
    return True


async def send_intents(path: Path, intents: list[Intent]) -> list[dict[str, Any]]:
    """Client side of the socket (used by `deskgate propose`): only to a server of this user."""
    try:
        check_private_dir(path.parent)
    except OSError as exc:
        raise ConnectionError(str(exc)) from None
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_LINE)
    except OSError as exc:
        raise ConnectionError(
            f"no deskgate listening at {path} ({exc.strerror or exc}); start the console first"
        ) from None
    replies = []
    try:
        uid = peer_uid(writer.get_extra_info("socket"))
        if uid != os.getuid():
            raise ConnectionError(f"{path}: served by uid {uid}, not this user; nothing sent")
        for intent in intents:
            writer.write(intent.model_dump_json().encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT_S)
            if not line:
                raise ConnectionError("deskgate closed the connection")
            replies.append(json.loads(line))
    finally:
        writer.close()
    return replies


class StrategyPlugin(Protocol):
    """An in-process intent source: runs until cancelled, proposing through `propose`."""

    def __call__(self, propose: Propose, context: Any) -> Awaitable[None]: ...


def load_plugin(spec: str) -> StrategyPlugin:
    """'package.module:callable' -> the callable; a clear error if it is not there."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise IntakeError(f"plugin {spec!r}: expected 'module:callable'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise IntakeError(f"plugin {spec!r}: cannot import {module_name}: {exc}") from None
    plugin = getattr(module, attr, None)
    if not callable(plugin):
        raise IntakeError(f"plugin {spec!r}: {attr} is not a callable in {module_name}")
    return plugin
