"""`deskgate rollback`: halt, cancel all, flatten, verify flat and NAV, write an incident report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from console.cli.options import BROKER, SubParsers, add_common, fail, load
from contracts.enums import Mode

if TYPE_CHECKING:  # the domain loads when the verb runs, not when the parser is built
    from engine.results import CommandResult


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "rollback", help="cancel all, flatten, verify flat and NAV; write an incident report"
    )
    add_common(p, BROKER, verb="rollback")
    p.add_argument("--reason", required=True, help="why (recorded in the audit log)")
    p.add_argument("--actor", default="trader", help="who (default: trader)")
    p.add_argument("--out-dir", default=".", help="where INCIDENT_<time>.md goes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from console.cli.live import confirm_live_account
    from console.compose import StartupRefused, build_session
    from engine.rollback import rollback_and_report

    config = load(args)
    if not args.reason.strip():
        return fail("a rollback needs --reason")
    confirm_live_account(config)
    try:
        session = build_session(config, demo=False)
    except StartupRefused as exc:
        return fail(str(exc))
    out_dir = Path(args.out_dir).expanduser()

    async def run_rollback() -> tuple[CommandResult, Path | None]:
        await session.start_venue()
        await session.engine.start()
        try:
            return await rollback_and_report(session.engine, args.reason, args.actor, out_dir)
        finally:
            await session.close()

    result, path = asyncio.run(run_rollback())
    print(result.message)
    if path:
        print(f"wrote {path}")
    if config.mode is Mode.LIVE and not result.ok:
        print("LIVE account not verified flat: check the broker now.")
    return 0 if result.ok else 1
