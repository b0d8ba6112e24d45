"""`deskgate console` (and plain `deskgate`): open the trading console."""

from __future__ import annotations

import argparse
import gc
from typing import TYPE_CHECKING

from console.cli.options import (
    CONSOLE,
    CliError,
    SubParsers,
    add_common,
    configured_mode,
    fail,
    load,
)

if TYPE_CHECKING:  # the domain loads when the verb runs, not when the parser is built
    from console.compose import Session
    from console.tui.app import DeskgateApp
    from console.tui.startup import OpenedEngine
    from contracts.config import Config
    from engine.instance_lock import InstanceLock
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
    """Paint the console first (mode badge, "connecting…"), then build the engine behind it.

    Before the first frame only its mode badge is read from the config file, unvalidated
    (`configured_mode`). On a terminal that frame is written straight away (`FirstFrame`),
    before Textual loads; Textual's own starting screen then takes over. Once the frame is
    painted `Launch.open` validates the config and checks the bot options, the live
    confirmation, the log and the data dir's lock, then builds the session (store, venue,
    broker, engine); a refusal there ends the console with its one line and status 2, before
    any key can act on an engine.
    """
    from console.tui.first_frame import FirstFrame

    mode = configured_mode(args)
    first_frame = FirstFrame.draw(mode)  # the badge on screen before Textual has loaded
    try:
        gc.disable()  # see `open_session`; collections resume before the console runs
        try:
            from console.tui.app import DeskgateApp  # the Textual app (not its main screen yet)
        finally:
            gc.enable()
        launch = Launch(args)
        app = DeskgateApp(mode=mode, opener=launch.open)
        launch.app = app
        app.settle_heap_when_started = True  # full collections then skip the start-up heap
        if first_frame is not None:
            app.before_taking_terminal = first_frame.erase
        import asyncio

        asyncio.run(launch.run())
    finally:
        if first_frame is not None:
            first_frame.close()
    if app.start_error is not None:
        return refusal(app.start_error)
    return app.return_code or 0


def refusal(error: Exception) -> int:
    """The one-line exit of a session that refused to start; anything else propagates."""
    from console.preflight import StartupRefused
    from contracts.config import ConfigError
    from engine.audit import AuditUnavailable
    from engine.intake import IntakeError

    refusals = (StartupRefused, CliError, ConfigError, IntakeError, AuditUnavailable, ValueError)
    if isinstance(error, refusals):
        return fail(str(error))
    raise error


class Launch:
    """The session of the `deskgate` process: checked and built by the console once its
    first frame is painted (`open`), closed after the console exits (`run`)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lock: InstanceLock | None = None
        self.app: DeskgateApp | None = None
        self.session: Session | None = None

    async def run(self) -> None:
        assert self.app is not None, "Launch.app is set before the console runs"
        try:
            await self.app.run_async()
        finally:
            if self.session is not None:
                await self.session.close()  # releases the lock
            if self.lock is not None:
                self.lock.release()

    async def open(self) -> OpenedEngine:
        """Check the start (`preflight`), build the session (importing the engine), start its
        venue, hand the engine and the validated config over."""
        gc.disable()
        try:
            config, sources, lock = self.preflight()
            session, refused = open_session(self.args, config, sources, lock)
        finally:
            gc.enable()
        self.session = session
        from console.compose import StartupRefused, stop_on_hangup
        from console.tui.startup import OpenedEngine

        if refused:
            raise StartupRefused(refused)
        stop_on_hangup(self.app)
        await session.start_venue()
        return OpenedEngine(session.engine, session.live_account, config)

    def preflight(self) -> tuple[Config, list[StrategyPlugin], InstanceLock]:
        """The validated config, the bot, the log started and the data dir held (`lock`), in
        that order; the first refusal (CliError, ConfigError, StartupRefused, ValueError,
        AuditUnavailable) is raised, each with its one line."""
        from console.preflight import hold_data_dir, live_confirmation, start_log

        config = load(self.args)
        data_dir = config.resolved_data_dir()
        live_confirmation(config)
        sources = strategy_sources(self.args, config)
        start_log(data_dir)
        self.lock = hold_data_dir(data_dir)
        return config, sources, self.lock


def open_session(
    args: argparse.Namespace, config: Config, sources: list[StrategyPlugin], lock: InstanceLock
) -> tuple[Session, str]:
    """Import and build the session, and why the go-live gates refuse it ("" when they do not).

    The caller runs this with the garbage collector off: the imports make some 100,000
    long-lived objects (schemas, styles, classes) and collecting them again and again while
    they are made costs about 15 % of the imports; nothing here makes garbage
    worth collecting.
    """
    from console.compose import build_session
    from engine.golive_evidence import live_start_check

    session = build_session(
        config,
        data_dir=config.resolved_data_dir(),
        demo=False if args.no_demo or sources else None,
        sources=sources,
        lock=lock,
    )
    gates, refused = live_start_check(config, args.override_gates, "trader")
    if not refused:
        session.engine.golive.publish_gates(gates)
    return session, refused or ""
