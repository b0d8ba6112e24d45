"""The local control channel: a Unix socket (0600, same uid only) serving `deskgate status`,
`deskgate kill` and `deskgate limits set` to other shells, through a small registry of commands.

One JSON request per line (`{"command": "status"}`), one JSON reply per line (`{"ok": ...}`).
Each connection's peer is checked with SO_PEERCRED: another uid gets one refusal line and the
connection is closed. New commands register a handler (`server.register("limits set", fn)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from contracts.enums import TradingState
from contracts.events import KillConfirmation, TradingStateChanged
from engine.bus import EventBus, Subscription
from engine.control_wire import CONTROL_SOCKET, KILL_CONFIRM_TIMEOUT_S, peer_uid
from engine.intake import close_unix, listen_unix
from engine.results import CommandResult
from engine.view import EngineSnapshot

__all__ = ["CONTROL_SOCKET", "KILL_CONFIRM_TIMEOUT_S", "ControlServer", "peer_uid", "status_of"]

MAX_REQUEST = 64 * 1024
MAX_REASON = 200

log = logging.getLogger("deskgate.control")

Reply = dict[str, Any]
Handler = Callable[[dict[str, Any]], Awaitable[Reply]]


class ControlledEngine(Protocol):
    """What the control channel needs from the engine (its public command API)."""

    bus: EventBus

    def snapshot(self) -> EngineSnapshot: ...

    async def kill(self, reason: str, actor: str = ...) -> CommandResult: ...

    def set_limit(
        self, key: str, value: str, reason: str = ..., actor: str = ...
    ) -> CommandResult: ...


class ControlError(ValueError):
    """A request the server refuses; the message is the one-line reply."""


class ControlServer:
    """Serves registered commands on a 0600 Unix socket; only the engine's own uid is answered."""

    def __init__(self, path: Path, engine: ControlledEngine, *, uid: int | None = None) -> None:
        self.path = path
        self.engine = engine
        self.uid = os.getuid() if uid is None else uid
        self._server: asyncio.AbstractServer | None = None
        self._commands: dict[str, Handler] = {}
        self.register("status", self._status)
        self.register("kill", self._kill)
        self.register("limits set", self._limits_set)

    def register(self, name: str, handler: Handler) -> None:
        """Add a command: `handler(args)` answers with a JSON-able dict that includes "ok"."""
        self._commands[name] = handler

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(sorted(self._commands))

    async def start(self) -> None:
        self._server = await listen_unix(self.path, self._handle, MAX_REQUEST)

    async def stop(self) -> None:
        await close_unix(self._server, self.path)
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            uid = peer_uid(sock)
            if uid != self.uid:
                log.warning("control socket: refused a peer with uid %d", uid)
                await _reply(
                    writer,
                    {
                        "ok": False,
                        "message": f"refused: peer uid {uid} is not the engine's uid {self.uid}",
                    },
                )
                return
            while line := await reader.readline():
                if line.strip():
                    await _reply(writer, await self.dispatch(line))
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def dispatch(self, line: bytes) -> Reply:
        """Parse one request line and run its command; bad input gets a one-line refusal."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                raise ControlError('a request is a JSON object with a "command" string')
            handler = self._commands.get(request["command"])
            if handler is None:
                raise ControlError(
                    f"unknown command {request['command'][:40]!r}; "
                    f"known: {', '.join(self.commands)}"
                )
            return await handler(request)
        except (ControlError, ValueError) as exc:
            return {"ok": False, "message": str(exc)}

    async def _status(self, _request: dict[str, Any]) -> Reply:
        return {"ok": True, "status": status_of(self.engine.snapshot())}

    async def _kill(self, request: dict[str, Any]) -> Reply:
        reason = request.get("reason") or "kill from the control channel"
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise ControlError(f"reason must be text of at most {MAX_REASON} characters")
        reason = "".join(ch if ch.isprintable() else "?" for ch in reason)
        timeout = request.get("timeout_s", KILL_CONFIRM_TIMEOUT_S)
        if not isinstance(timeout, int | float) or not 0 < timeout <= 600:
            raise ControlError("timeout_s must be a number of seconds in (0, 600]")
        subscription = self.engine.bus.subscribe()
        try:
            result = await self.engine.kill(reason, actor="control")
            try:
                async with asyncio.timeout(float(timeout)):
                    confirmed = await _kill_confirmed(self.engine, subscription)
            except TimeoutError:
                confirmed = False
        finally:
            subscription.close()
        snap = self.engine.snapshot()
        return {
            "ok": result.ok and confirmed,
            "message": result.message,
            "confirmed": confirmed,
            "trading_state": snap.trading_state.value,
            "working_orders": len([o for o in snap.orders if o.state.is_working]),
        }

    async def _limits_set(self, request: dict[str, Any]) -> Reply:
        key, value = request.get("key"), request.get("value")
        if not isinstance(key, str) or not isinstance(value, str):
            raise ControlError('limits set needs "key" and "value" as text')
        if len(key) > MAX_REASON or len(value) > MAX_REASON:
            raise ControlError(f"key and value must be at most {MAX_REASON} characters")
        reason = request.get("reason") or ""
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise ControlError(f"reason must be text of at most {MAX_REASON} characters")
        reason = "".join(ch if ch.isprintable() else "?" for ch in reason)
        result = self.engine.set_limit(key, value, reason, actor="control")
        return {"ok": result.ok, "message": result.message, "code": result.code}


async def _kill_confirmed(engine: ControlledEngine, subscription: Subscription) -> bool:
    """Wait for the broker's confirmation of this kill (no working orders).

    Only events after the kill count (the subscription was taken before it): a confirmation
    left over from an earlier kill must not confirm this one."""
    if engine.snapshot().trading_state is not TradingState.HALTED:
        return False
    while True:
        item = await subscription.get()
        if isinstance(item, KillConfirmation) and item.confirmed:
            return True
        if isinstance(item, TradingStateChanged) and item.current is not TradingState.HALTED:
            return False  # re-armed meanwhile: this kill is over without its confirmation


def status_of(snap: EngineSnapshot) -> dict[str, Any]:
    """What `deskgate status` shows: no tokens, and the account id masked."""
    unrealized = sum((p.unrealized_pnl for p in snap.positions), Decimal(0))
    realized = snap.realized_pnl_today
    account = snap.connection.account_id or ""
    return {
        "mode": snap.mode.value,
        "trading_state": snap.trading_state.value,
        "kill_confirmed": snap.kill_confirmed,
        "connection": {
            "broker": snap.connection.broker,
            "connected": snap.connection.connected,
            "account": f"…{account[-3:]}" if account else None,
            "paper": snap.connection.is_paper,
        },
        "pending_approvals": len(snap.pending),
        "working_orders": [
            {
                "intent_id": o.intent_id,
                "symbol": o.symbol,
                "side": o.side.value,
                "type": o.order_type.value,
                "requested": str(o.requested),
                "filled": str(o.filled),
                "state": o.state.value,
                "limit": None if o.limit_price is None else str(o.limit_price),
                "stop": None if o.stop_price is None else str(o.stop_price),
            }
            for o in snap.orders
            if o.state.is_working
        ],
        "positions": [
            {
                "symbol": p.symbol,
                "quantity": str(p.quantity),
                "avg_price": str(p.avg_price),
                "unrealized": str(p.unrealized_pnl),
                "realized": str(p.realized_pnl),
            }
            for p in snap.positions
        ],
        "pnl": {
            "realized_today": str(realized),
            "unrealized": str(unrealized),
            "total": str(realized + unrealized),
        },
        "alerts": [
            {
                "ts": a.ts_event.isoformat(),
                "level": a.level.value,
                "code": a.code,
                "message": a.message,
            }
            for a in snap.alerts[-10:]
        ],
        "taken_at": snap.taken_at.isoformat(),
    }


async def _reply(writer: asyncio.StreamWriter, reply: Reply) -> None:
    writer.write(json.dumps(reply, default=str).encode() + b"\n")
    await writer.drain()
