"""`deskgate propose`: send intents to the running console's intake socket."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.cli.options import FILES, SubParsers, add_common, fail, load


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "propose", help="send intents (JSON, JSON array or JSON lines) to the console"
    )
    add_common(p, FILES, verb="propose")
    p.add_argument("file", help="a file, or - for standard input")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from engine.intake import IntakeError, parse_intents, send_intents

    config = load(args)
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except OSError as exc:
        return fail(f"{args.file}: {exc.strerror or exc}")
    try:
        intents = parse_intents(text)
    except IntakeError as exc:
        return fail(f"{args.file}: {exc}")
    socket = (
        Path(config.intake.socket_path)
        if config.intake.socket_path
        else config.resolved_data_dir() / "intake.sock"
    )
    try:
        replies = asyncio.run(send_intents(socket, intents))
    except ConnectionError as exc:
        return fail(str(exc))
    failed = 0
    for reply in replies:
        status = "accepted" if reply.get("ok") else "refused"
        failed += not reply.get("ok")
        print(f"{reply.get('intent_id')}: {status}: {reply.get('message')}")
    return 1 if failed else 0
