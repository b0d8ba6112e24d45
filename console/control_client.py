"""`deskgate status` and `deskgate kill`: the client side of the engine's control socket."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from engine.control_wire import CONTROL_SOCKET, KILL_CONFIRM_TIMEOUT_S, peer_uid

DEFAULT_CONFIG = Path("~/.config/deskgate/deskgate.toml")
REPLY_MARGIN_S = 10.0


class ControlUnavailable(Exception):
    """No engine answers on the data dir's control socket, or it is not ours."""


def request(data_dir: Path, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Send one request to the engine on `data_dir` and return its reply.

    The server must run as our own uid (SO_PEERCRED), so a socket planted by another user is
    never told anything nor believed."""
    path = data_dir / CONTROL_SOCKET
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise ControlUnavailable(
                f"no deskgate engine answers at {path} ({exc.strerror or exc}); is the console "
                "running on this data dir?"
            ) from None
        uid = peer_uid(sock)
        if uid != os.getuid():
            raise ControlUnavailable(
                f"{path} is served by uid {uid}, not by you: refusing to talk to it"
            )
        sock.sendall(json.dumps(payload).encode() + b"\n")
        reply = _read_line(sock, path)
    try:
        parsed = json.loads(reply)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ControlUnavailable(f"{path}: the engine's reply is not a JSON object")
    return parsed


def _read_line(sock: socket.socket, path: Path) -> bytes:
    chunks = b""
    try:
        while not chunks.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks += chunk
    except TimeoutError:
        raise ControlUnavailable(f"{path}: the engine did not answer in time") from None
    if not chunks:
        raise ControlUnavailable(f"{path}: the engine closed the connection without a reply")
    return chunks


def format_status(status: dict[str, Any]) -> str:
    """The human-readable status: one fact per line."""
    conn = status["connection"]
    pnl = status["pnl"]
    kill = {True: "confirmed", False: "UNCONFIRMED", None: "-"}[status["kill_confirmed"]]
    lines = [
        f"trading    {status['trading_state']} (kill {kill}), mode {status['mode']}",
        f"broker     {conn['broker']} {'connected' if conn['connected'] else 'DISCONNECTED'}"
        + (f", account {conn['account']}" if conn["account"] else ""),
        f"approvals  {status['pending_approvals']} pending",
        f"orders     {len(status['working_orders'])} working",
    ]
    lines += [
        f"  {o['symbol']:<8} {o['side']:<4} {o['filled']}/{o['requested']} {o['type']} "
        f"{o['state']}  {o['intent_id']}"
        for o in status["working_orders"]
    ]
    lines.append(f"positions  {len(status['positions'])}")
    lines += [
        f"  {p['symbol']:<8} {p['quantity']} @ {p['avg_price']}  unrealized {p['unrealized']}"
        for p in status["positions"]
    ]
    lines.append(
        f"P&L        realized {pnl['realized_today']}, unrealized {pnl['unrealized']}, "
        f"total {pnl['total']}"
    )
    lines.append(f"alerts     {len(status['alerts'])} recent")
    lines += [f"  {a['ts']} {a['level']} {a['code']}: {a['message']}" for a in status["alerts"]]
    return "\n".join(lines)


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir:
        return Path(args.data_dir).expanduser()
    from console.cli.options import check_config_private  # the config loads only when needed
    from contracts.config import Config, load_config

    path = Path(args.config).expanduser() if args.config else DEFAULT_CONFIG.expanduser()
    if not args.config and not path.exists():
        return Config().resolved_data_dir()
    check_config_private(path)
    return load_config(path).resolved_data_dir()


def _fail(message: str) -> int:
    print(f"deskgate: {message}", file=sys.stderr)
    return 2


def cmd_status(args: argparse.Namespace) -> int:
    try:
        reply = request(_data_dir(args), {"command": "status"}, REPLY_MARGIN_S)
    except ControlUnavailable as exc:
        return _fail(str(exc))
    if not reply.get("ok"):
        return _fail(str(reply.get("message")))
    if args.json:
        print(json.dumps(reply["status"], indent=2))
    else:
        print(format_status(reply["status"]))
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    payload = {"command": "kill", "reason": args.reason, "timeout_s": args.timeout}
    try:
        reply = request(_data_dir(args), payload, args.timeout + REPLY_MARGIN_S)
    except ControlUnavailable as exc:
        return _fail(str(exc))
    if "confirmed" not in reply:
        return _fail(str(reply.get("message")))
    print(reply["message"])
    if reply["confirmed"]:
        print("kill confirmed by the broker: no working orders")
        return 0
    print(
        f"kill NOT confirmed within {args.timeout:g}s: {reply['working_orders']} order(s) still "
        "working; the engine keeps cancelling (watch `deskgate status`)"
    )
    return 1


def build_parser() -> argparse.ArgumentParser:
    """`python -m console.control_client status|kill`: the same verbs, without the console."""
    parser = argparse.ArgumentParser(prog="deskgate", description="deskgate control commands")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def register(sub: Any) -> None:
    """Add `status` and `kill` to the `deskgate` command line."""
    for name, helptext, func in (
        ("status", "the running engine's state, orders, positions, P&L, alerts", cmd_status),
        ("kill", "HALT the running engine and cancel every order, broker-confirmed", cmd_kill),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--config", help="TOML config (default ~/.config/deskgate/deskgate.toml)")
        p.add_argument("--data-dir", help="the running engine's data dir")
        p.set_defaults(func=func)
        if name == "status":
            p.add_argument("--json", action="store_true", help="machine-readable output")
        else:
            p.add_argument("--reason", default="kill from another shell", help="audited reason")
            p.add_argument(
                "--timeout",
                type=float,
                default=KILL_CONFIRM_TIMEOUT_S,
                help="seconds to wait for the broker's confirmation",
            )


if __name__ == "__main__":
    arguments = build_parser().parse_args()
    sys.exit(arguments.func(arguments))
