"""`deskgate console` (and plain `deskgate`): open the trading console."""

from __future__ import annotations

import argparse
import gc
from typing import TYPE_CHECKING

from console.cli.options import CONSOLE, SubParsers, add_common, fail, load

if TYPE_CHECKING:  # the domain loads when the verb runs, not when the parser is built
    from console.compose import Session
    from console.tui.app import DeskgateApp
    from contracts.config import Config
    from engine.intake import StrategyPlugin


def register(sub: SubParsers) -> None:
    p = sub.add_parser("console", help="open the console (the default)")
    add_common(p, CONSOLE, verb="console")
    add_strategy_options(p)
    p.set_defaults(func=run)


def add_strategy_options(p: argparse.ArgumentParser) -> None:
    """`--strategies K1,...,K5 --symbols MES`: run the bot (config [strategy], narrowed)."""
    p.add_argument(
        "--strategies",
        metavar="K1,...",
        help="run the bot with these templates (K1..K5) as an intent source; no demo source",
    )
    p.add_argument(
        "--symbols",
        metavar="MES,...",
        help="futures the bot trades (default: [strategy] symbols); needs --strategies",
    )


def strategy_sources(args: argparse.Namespace, config: Config) -> list[StrategyPlugin]:
    """The bot as an intent source when `--strategies` is given; ValueError on a bad name."""
    strategies = getattr(args, "strategies", None)  # plain `deskgate` has no verb options
    symbols = getattr(args, "symbols", None)
    if strategies is None:
        if symbols is not None:
            raise ValueError("--symbols needs --strategies")
        return []
    from engine.strategy.plugin import make_plugin

    return [make_plugin(config.strategy, strategies, symbols)]


def run(args: argparse.Namespace) -> int:
    gc.disable()  # see `open_console`; collections resume before the console runs
    try:
        opened = open_console(args)
    finally:
        gc.enable()
    if isinstance(opened, int):
        return opened
    session, app = opened
    app.settle_heap_when_started = True  # full collections then skip the start-up heap
    import asyncio

    from console.compose import stop_on_hangup

    async def run_app() -> None:
        stop_on_hangup(app)
        try:
            await session.start_venue()
            await app.run_async()
        finally:
            await session.close()

    asyncio.run(run_app())
    return app.return_code or 0


def open_console(args: argparse.Namespace) -> tuple[Session, DeskgateApp] | int:
    """Import and build the console and its session, or the exit status of a refusal.

    The caller runs this with the garbage collector off: the imports make some 100,000
    long-lived objects (schemas, styles, classes) and collecting them again and again while
    they are made costs about 15 % of the imports; nothing here makes garbage
    worth collecting.
    """
    from console.compose import StartupRefused, build_session, start_log
    from console.tui.app import DeskgateApp  # the Textual app
    from engine.audit import AuditUnavailable
    from engine.golive_evidence import live_start_check
    from engine.intake import IntakeError

    config = load(args)
    data_dir = config.resolved_data_dir()
    try:
        sources = strategy_sources(args, config)
        start_log(data_dir)
        session = build_session(
            config,
            data_dir=data_dir,
            demo=False if args.no_demo or sources else None,
            sources=sources,
        )
    except (StartupRefused, IntakeError, AuditUnavailable, ValueError) as exc:
        return fail(str(exc))
    gates, refused = live_start_check(config, args.override_gates, "trader")
    if refused:
        return fail(refused)
    session.engine.golive.publish_gates(gates)
    app = DeskgateApp(session.engine, config=config, live_account_check=session.live_account)
    return session, app
