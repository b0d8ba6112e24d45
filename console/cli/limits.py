"""`deskgate limits set KEY VALUE`: change a risk limit on the running engine (control socket)."""

from __future__ import annotations

import argparse

from console.cli.options import SubParsers
from console.control_client import REPLY_MARGIN_S, ControlUnavailable, data_dir_for, fail, request


def register(sub: SubParsers) -> None:
    p = sub.add_parser("limits", help="change a risk limit on the running engine")
    verbs = p.add_subparsers(dest="limits_command", metavar="ACTION", required=True)
    s = verbs.add_parser(
        "set", help="tighten at once; loosening needs --reason; both are audit records"
    )
    s.add_argument("key", help="the limit, e.g. max_notional (or risk.max_notional)")
    s.add_argument("value", help="its new value")
    s.add_argument("--reason", default="", help="why (required to loosen; recorded)")
    s.add_argument("--config", help="TOML config (default ~/.config/deskgate/deskgate.toml)")
    s.add_argument("--data-dir", help="the running engine's data dir")
    s.set_defaults(func=run_set)


def run_set(args: argparse.Namespace) -> int:
    payload = {"command": "limits set", "key": args.key, "value": args.value}
    payload["reason"] = args.reason
    try:
        reply = request(data_dir_for(args), payload, REPLY_MARGIN_S)
    except ControlUnavailable as exc:
        return fail(str(exc))
    if not reply.get("ok"):
        return fail(str(reply.get("message")))
    print(reply["message"])
    return 0
