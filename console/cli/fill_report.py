"""`deskgate fill-report`: every fill against what was intended, and slippage against the model."""

from __future__ import annotations

import argparse

from console.cli.options import FILES, SubParsers, add_common


def register(sub: SubParsers) -> None:
    p = sub.add_parser("fill-report", help="fills, slippage and latency from the audit store")
    add_common(p, FILES, verb="fill-report")
    p.add_argument(
        "--since",
        metavar="TIME",
        help="only fills from TIME: ISO date/time (UTC unless it names a zone) or e.g. 2h, 30m",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV, one row per fill")
    fmt.add_argument("--json", action="store_true", help="JSON: fills and the slippage check")
    p.add_argument("--file", metavar="FILE", help="the audit store (default: the newest)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from console.cli.fill_report_run import (
        run as run_verb,  # the domain loads only when the verb runs
    )

    return run_verb(args)
