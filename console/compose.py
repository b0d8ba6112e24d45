"""The composition root: builds venue, broker and engine from the config and CLI options."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.lazy_ibkr import LazyIbkrBroker
from console.notify_sinks import AppriseSink, TerminalSink
from console.preflight import StartupRefused as StartupRefused
from console.preflight import hold_data_dir, live_confirmation
from console.preflight import start_log as start_log
from contracts.config import Config, ConfigError
from engine.audit import AuditStore
from engine.clock import Clock, SystemClock
from engine.control import CONTROL_SOCKET, ControlServer
from engine.demo import demo_source
from engine.engine import Engine
from engine.instance_lock import InstanceLock
from engine.intake import StrategyPlugin, load_plugin
from engine.notify import AlertDispatcher, NotificationSink, NotifyPolicy
from engine.ports import BrokerPort

if TYPE_CHECKING:  # ib_async loads when the engine connects, after the first frame
    from broker.ibkr.adapter import IbkrBroker

EMBEDDED_ACCOUNT = "DU1234567"
QUOTE_RATE = 20.0


class TerminalHook:
    """Where the terminal sink writes its bell and OSC escapes: the console connects its driver
    output with `connect` once it runs; until then (and after `disconnect`) nothing is written."""

    def __init__(self) -> None:
        self._write: Callable[[str], None] | None = None

    def connect(self, write: Callable[[str], None]) -> None:
        self._write = write

    def disconnect(self) -> None:
        self._write = None

    def __call__(self, text: str) -> None:
        if self._write is not None:
            self._write(text)


@dataclass
class Session:
    """A built engine plus what runs beside it (embedded venue, gateway, quote streamer, alerts)."""

    engine: Engine
    config: Config
    live_account: str | None = None
    closers: list[Any] = field(default_factory=list)
    starters: list[Any] = field(default_factory=list)
    instance_lock: InstanceLock | None = None
    alerts: AlertDispatcher | None = None
    """Off-screen alerts (bell/desktop escape, apprise); None when none are configured."""
    terminal: TerminalHook = field(default_factory=TerminalHook)
    """Connect the console's terminal output here: `session.terminal.connect(write)`."""

    async def start_venue(self) -> None:
        """Start whatever the broker connects to (embedded gateway, quote streamer)."""
        for start in self.starters:
            await start()
        self.starters.clear()

    async def close(self) -> None:
        try:
            if self.alerts is not None:
                await self.alerts.stop()
            await self.engine.stop()
            for close in reversed(self.closers):
                with contextlib.suppress(Exception):
                    await close()
        finally:
            if self.instance_lock is not None:
                self.instance_lock.release()


def store_name(account: str) -> str:
    """An opaque file name for an account's store: the account id never appears on disk."""
    return "acct-" + hashlib.sha256(account.encode()).hexdigest()[:16]


def audit_path(config: Config, data_dir: Path, embedded: bool, account: str) -> Path:
    """One file per account; an embedded venue is new each run, so each run gets its own."""
    if embedded:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return data_dir / "sim" / f"{stamp}-{store_name(account)}.sqlite"
    path = data_dir / f"{store_name(config.account or account)}.sqlite"
    _migrate_named_store(data_dir / f"{config.account or account}.sqlite", path)
    return path


def _migrate_named_store(old: Path, new: Path) -> None:
    """Rename a store that carries the account id in its name (older deskgate) to the opaque one.

    Runs under the instance lock, before the store is opened; the -wal and -shm files move with
    it so no commit is lost. A store under both names is refused rather than guessed at.
    """
    if not old.exists():
        return
    if new.exists():
        raise StartupRefused(
            f"two audit stores for this account in {new.parent}: {new.name} and an older one "
            "named after the account id; move the older one away"
        )
    for suffix in ("-wal", "-shm", ".key", ".head", ""):
        source = old.with_name(old.name + suffix)
        if source.exists():
            source.rename(new.with_name(new.name + suffix))


def private_files() -> None:
    """Every file deskgate creates from now on is private to the user (store, log, reports)."""
    os.umask(0o077)


def build_session(
    config: Config,
    *,
    data_dir: Path | None = None,
    clock: Clock | None = None,
    demo: bool | None = None,
    quote_rate: float = QUOTE_RATE,
    sources: Sequence[StrategyPlugin] = (),
    lock: InstanceLock | None = None,
) -> Session:
    """Wire broker + engine for `config.broker.kind` (sim, gateway, ibkr); `lock`: the data
    dir already held (`preflight.hold_data_dir`), else it is taken here."""
    live_account = live_confirmation(config)
    directory = data_dir or config.resolved_data_dir()
    if lock is None:
        lock = hold_data_dir(directory)
    try:
        return _build(config, directory, lock, live_account, clock, demo, quote_rate, sources)
    except BaseException:
        lock.release()
        raise


def _build(
    config: Config,
    directory: Path,
    lock: InstanceLock,
    live_account: str | None,
    clock: Clock | None,
    demo: bool | None,
    quote_rate: float,
    sources: Sequence[StrategyPlugin],
) -> Session:
    kind = config.broker.kind
    starters: list[Any] = []
    closers: list[Any] = []
    broker: BrokerPort
    embedded = kind == "sim" or (kind == "gateway" and config.broker.port == 0)
    account = EMBEDDED_ACCOUNT
    if kind == "sim":
        broker = _sim_broker(config, starters, closers, quote_rate)
    elif kind == "gateway" and config.broker.port == 0:
        broker = _embedded_gateway_broker(config, closers, quote_rate)
    else:
        broker = _ibkr_broker(config, live_account)
        account = config.account or f"ibkr-{config.broker.port}"
    store = AuditStore(audit_path(config, directory, embedded, account))
    plugins = [load_plugin(spec) for spec in config.intake.plugins]
    sources = [*plugins, *sources]
    if (demo if demo is not None else config.intake.demo) and embedded:
        sources.append(demo_source)  # type: ignore[arg-type]
    socket = (
        Path(config.intake.socket_path) if config.intake.socket_path else directory / "intake.sock"
    )
    engine = Engine(
        config,
        broker,
        data_dir=directory,
        clock=clock or SystemClock(),
        store=store,
        intake_socket=socket,
        sources=sources,
    )
    control = ControlServer(directory / CONTROL_SOCKET, engine)

    async def start_control() -> None:
        try:
            await control.start()
        except OSError as exc:  # e.g. a data dir path too long for a Unix socket
            logging.getLogger("deskgate").error(
                "control channel unavailable (%s): `deskgate status` / `deskgate kill` cannot "
                "reach this console",
                exc,
            )

    starters.append(start_control)
    closers.append(control.stop)
    session = Session(engine, config, live_account, closers, starters, lock)
    session.alerts = alert_dispatcher(config, engine, session.terminal)
    if session.alerts is not None:
        alerts = session.alerts

        async def start_alerts() -> None:
            alerts.start()

        starters.insert(0, start_alerts)
    return session


def alert_dispatcher(
    config: Config, engine: Engine, terminal: Callable[[str], None]
) -> AlertDispatcher | None:
    """The off-screen alert dispatcher `[alerts]` asks for (None when it asks for none).

    Raises ConfigError naming the scheme of an apprise URL apprise does not know.
    """
    settings = config.alerts
    sinks: list[NotificationSink] = []
    if settings.terminal_bell:
        sinks.append(TerminalSink(terminal))
    if settings.apprise_urls:
        try:
            sinks.append(AppriseSink(settings.apprise_urls))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if not sinks:
        return None
    policy = NotifyPolicy(
        min_interval_s=settings.min_interval_s, escalate_after_s=settings.escalate_after_s
    )
    return AlertDispatcher(engine.bus, engine.clock, sinks, policy)


def _sim_broker(config: Config, starters: list[Any], closers: list[Any], rate: float) -> BrokerPort:
    from broker.sim.broker import SimBroker
    from broker.sim.scheduler import AsyncioScheduler
    from broker.sim.streamer import QuoteStreamer
    from broker.sim.venue import SimVenue

    venue = SimVenue(config.broker.seed, config.broker.chaos, scheduler=AsyncioScheduler())
    streamer = QuoteStreamer(venue, rate)

    async def start() -> None:
        streamer.start()

    starters.append(start)
    closers.append(streamer.stop)
    return SimBroker(venue, EMBEDDED_ACCOUNT, client_id=config.broker.client_id)


def _ibkr_broker(config: Config, live_account: str | None) -> BrokerPort:
    """TWS / IB Gateway at the configured address; ib_async loads when the engine connects."""

    def build() -> IbkrBroker:
        from broker.ibkr.adapter import IbkrBroker

        return IbkrBroker(
            config.broker.host,
            config.broker.port or 4002,
            config.broker.client_id,
            account=config.account or None,
            live_confirmed_account=live_account,
            connect_timeout_s=config.broker.connect_timeout_s,
        )

    return LazyIbkrBroker(build)


def _embedded_gateway_broker(config: Config, closers: list[Any], rate: float) -> BrokerPort:
    """The adapter against a gateway on loopback over a sim venue; both start when the engine
    first connects (after the console's first frame), not before the console is on screen."""

    def build() -> IbkrBroker:
        from broker.ibkr.adapter import IbkrBroker

        return IbkrBroker(
            "127.0.0.1",
            4002,  # replaced by the ephemeral port once the gateway is listening
            config.broker.client_id,
            connect_timeout_s=config.broker.connect_timeout_s,
        )

    async def start_gateway(broker: IbkrBroker) -> None:
        from broker.gateway.server import GatewayServer
        from broker.sim.scheduler import AsyncioScheduler
        from broker.sim.streamer import QuoteStreamer
        from broker.sim.venue import SimVenue

        venue = SimVenue(config.broker.seed, config.broker.chaos, scheduler=AsyncioScheduler())
        gateway = GatewayServer(venue, account=EMBEDDED_ACCOUNT, host="127.0.0.1", port=0)
        streamer = QuoteStreamer(venue, rate)
        closers.append(streamer.stop)
        closers.append(gateway.stop)
        await gateway.start()
        broker.port = gateway.port
        streamer.start()

    return LazyIbkrBroker(build, start_gateway)


def stop_on_hangup(app: Any) -> None:
    """On SIGHUP (terminal closed, SSH dropped) finish every command in flight, then exit.

    An approval the trader already pressed completes (token, write-ahead record, send) before
    the app exits; the caller then stops the engine cleanly, so working orders stay recorded and
    are reconciled by the next start instead of being dropped mid-flight by the default SIGHUP
    action (immediate termination).
    """
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def finish_then_exit() -> None:
        logging.getLogger("deskgate").warning("hang-up: finishing commands in flight, then exit")
        in_flight = [w for w in app.workers if w.group == "commands" and not w.is_finished]
        if in_flight:
            await app.workers.wait_for_complete(in_flight)
        app.exit(return_code=0)

    def hangup() -> None:
        task = loop.create_task(finish_then_exit(), name="hangup")
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    loop.add_signal_handler(signal.SIGHUP, hangup)
