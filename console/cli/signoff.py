"""`deskgate signoff`: record a go-live sign-off as an audit bead."""

from __future__ import annotations

import argparse

from console.cli.options import FILES, SubParsers, add_common, fail, load


def register(sub: SubParsers) -> None:
    p = sub.add_parser("signoff", help="record a go-live sign-off as an audit bead")
    add_common(p, FILES, verb="signoff")
    p.add_argument("--role", required=True, help="risk_officer, cto or lead_trader")
    p.add_argument("--name", required=True, help="the signer's name")
    p.add_argument("--note", help="optional remark")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.golive_evidence import record_signoff

    config = load(args)
    try:
        event = record_signoff(config, args.role, args.name, args.note or "")
    except ValueError as exc:
        return fail(str(exc))
    print(f"sign-off recorded: {event.role} = {event.name} at {event.ts_init.isoformat()}")
    return 0
