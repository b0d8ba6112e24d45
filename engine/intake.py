"""Intent intake: JSON-lines parsing, the local Unix socket (0600), and strategy plugins."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from contracts.intent import Intent
from engine.results import ProposalResult

log = logging.getLogger("deskgate.intake")

MAX_LINE = 256 * 1024
REPLY_TIMEOUT_S = 10.0


class IntakeError(ValueError):
    """A malformed intent; the message is one line naming what is wrong."""


def parse_intent(text: str | bytes) -> Intent:
    """One intent from JSON text, or IntakeError saying exactly what is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IntakeError(f"not UTF-8 at byte {exc.start}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IntakeError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise IntakeError(f"an intent must be a JSON object, not {type(data).__name__}")
    try:
        return Intent.model_validate(data)
    except ValidationError as exc:
        raise IntakeError(describe_validation_error(exc)) from None


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
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise IntakeError(f"not JSON: {exc.msg} at line {exc.lineno}") from None
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
    """A Unix socket (mode 0600) taking one JSON intent per line, answering one line each."""

    def __init__(self, path: Path, propose: Propose) -> None:
        self.path = path
        self._propose = propose
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            if await _socket_alive(self.path):
                raise OSError(f"{self.path}: another deskgate is already listening")
            self.path.unlink()
        old = os.umask(0o177)  # the socket is created 0600: no window where others can connect
        try:
            self._server = await asyncio.start_unix_server(
                self._handle, path=str(self.path), limit=MAX_LINE
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
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
                try:
                    intent = parse_intent(line)
                except IntakeError as exc:
                    reply = json.dumps({"ok": False, "intent_id": None, "message": str(exc)})
                else:
                    reply = result_json(await self._propose(intent, "socket"))
                writer.write(reply.encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _socket_alive(path: Path) -> bool:
    try:
        _, writer = await asyncio.open_unix_connection(str(path))
    except OSError:
        return False
    writer.close()
    return True


async def send_intents(path: Path, intents: list[Intent]) -> list[dict[str, Any]]:
    """Client side of the socket (used by `deskgate propose`)."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_LINE)
    except OSError as exc:
        raise ConnectionError(
            f"no deskgate listening at {path} ({exc.strerror or exc}); start the console first"
        ) from None
    replies = []
    try:
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
