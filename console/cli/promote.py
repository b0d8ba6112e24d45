"""`deskgate promote STRATEGY`: the evidence bundle, the vetoes, and a typed T2 approval."""

from __future__ import annotations

import argparse

from console.cli.options import FILES, SubParsers, add_common

SHADOW_FILE = "SHADOW_SESSIONS.json"


def register(sub: SubParsers) -> None:
    p = sub.add_parser("promote", help="promote a strategy SHADOW -> LIVE (evidence + T2 approval)")
    add_common(p, FILES, verb="promote")
    p.add_argument("strategy", metavar="STRATEGY")
    p.add_argument(
        "--evidence",
        metavar="FILE",
        help=f"recorded shadow sessions, JSON (default <data dir>/{SHADOW_FILE})",
    )
    p.add_argument("--requester", help="who asks for the promotion (default: your user name)")
    p.add_argument("--approver", help="the T2 approver, a different person (asked if not given)")
    p.add_argument("--file", metavar="FILE", help="the audit store (default: the newest)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from console.cli.promote_run import run as run_verb  # the domain loads only when the verb runs

    return run_verb(args)
