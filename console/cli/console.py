"""`deskgate console` (and plain `deskgate`): open the trading console."""

from __future__ import annotations

import argparse

from console.cli.options import CONSOLE, SubParsers, add_common, fail, load


def register(sub: SubParsers) -> None:
    p = sub.add_parser("console", help="open the console (the default)")
    add_common(p, CONSOLE, verb="console")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from console.compose import StartupRefused, build_session, start_log, stop_on_hangup
    from console.tui.app import DeskgateApp  # the Textual app
    from engine.audit import AuditUnavailable
    from engine.golive_evidence import live_start_check
    from engine.intake import IntakeError

    config = load(args)
    data_dir = config.resolved_data_dir()
    try:
        start_log(data_dir)
        session = build_session(config, data_dir=data_dir, demo=False if args.no_demo else None)
    except (StartupRefused, IntakeError, AuditUnavailable) as exc:
        return fail(str(exc))
    gates, refused = live_start_check(config, args.override_gates, "trader")
    if refused:
        return fail(refused)
    session.engine.publish_gates(gates)
    app = DeskgateApp(session.engine, config=config, live_account_check=session.live_account)

    async def run_app() -> None:
        stop_on_hangup(app)
        try:
            await session.start_venue()
            await app.run_async()
        finally:
            await session.close()

    asyncio.run(run_app())
    return app.return_code or 0
