"""The composition root: builds venue, broker and engine from the config and CLI options."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.config import Config
from contracts.enums import Mode
from engine.audit import AuditStore
from engine.clock import Clock, SystemClock
from engine.demo import demo_source
from engine.engine import Engine
from engine.intake import StrategyPlugin, load_plugin
from engine.ports import BrokerPort

LIVE_CONFIRM_ENV = "DESKGATE_LIVE_CONFIRM"
EMBEDDED_ACCOUNT = "DU1234567"
QUOTE_RATE = 20.0


class StartupRefused(Exception):
    """The session must not start (e.g. live mode without every confirmation)."""


@dataclass
class Session:
    """A built engine plus what runs beside it (embedded venue, gateway, quote streamer)."""

    engine: Engine
    config: Config
    live_account: str | None = None
    closers: list[Any] = field(default_factory=list)
    starters: list[Any] = field(default_factory=list)

    async def start_venue(self) -> None:
        """Start whatever the broker connects to (embedded gateway, quote streamer)."""
        for start in self.starters:
            await start()
        self.starters.clear()

    async def close(self) -> None:
        await self.engine.stop()
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                await close()


def live_confirmation(config: Config, environ: dict[str, str] | None = None) -> str | None:
    """In live mode, the account confirmed by config + environment (the typed check follows)."""
    if config.mode is not Mode.LIVE:
        return None
    env = os.environ if environ is None else environ
    confirmed = env.get(LIVE_CONFIRM_ENV, "")
    if not config.account:
        raise StartupRefused('live mode needs `account = "U..."` in the config')
    if confirmed != config.account:
        raise StartupRefused(f"live mode needs {LIVE_CONFIRM_ENV} set to the configured account id")
    return config.account


def audit_path(config: Config, data_dir: Path, embedded: bool, account: str) -> Path:
    """One file per account; an embedded venue is new each run, so each run gets its own."""
    if embedded:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return data_dir / "sim" / f"{stamp}-{account}.sqlite"
    return data_dir / f"{config.account or account}.sqlite"


def build_session(
    config: Config,
    *,
    data_dir: Path | None = None,
    clock: Clock | None = None,
    demo: bool | None = None,
    quote_rate: float = QUOTE_RATE,
    sources: Sequence[StrategyPlugin] = (),
) -> Session:
    """Wire broker + engine for `config.broker.kind` (sim, gateway, ibkr)."""
    live_account = live_confirmation(config)
    kind = config.broker.kind
    directory = data_dir or config.resolved_data_dir()
    starters: list[Any] = []
    closers: list[Any] = []
    broker: BrokerPort
    embedded = kind == "sim" or (kind == "gateway" and config.broker.port == 0)
    account = EMBEDDED_ACCOUNT
    if kind == "sim":
        broker = _sim_broker(config, starters, closers, quote_rate)
    elif kind == "gateway" and config.broker.port == 0:
        broker = _embedded_gateway_broker(config, starters, closers, quote_rate)
    else:
        from broker.ibkr.adapter import IbkrBroker

        broker = IbkrBroker(
            config.broker.host,
            config.broker.port or 4002,
            config.broker.client_id,
            account=config.account or None,
            live_confirmed_account=live_account,
            connect_timeout_s=config.broker.connect_timeout_s,
        )
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
    return Session(engine, config, live_account, closers, starters)


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


def _embedded_gateway_broker(
    config: Config, starters: list[Any], closers: list[Any], rate: float
) -> BrokerPort:
    from broker.gateway.server import GatewayServer
    from broker.ibkr.adapter import IbkrBroker
    from broker.sim.scheduler import AsyncioScheduler
    from broker.sim.streamer import QuoteStreamer
    from broker.sim.venue import SimVenue

    venue = SimVenue(config.broker.seed, config.broker.chaos, scheduler=AsyncioScheduler())
    gateway = GatewayServer(venue, account=EMBEDDED_ACCOUNT, host="127.0.0.1", port=0)
    streamer = QuoteStreamer(venue, rate)
    broker = IbkrBroker(
        "127.0.0.1",
        4002,  # replaced by the ephemeral port once the gateway is listening
        config.broker.client_id,
        connect_timeout_s=config.broker.connect_timeout_s,
    )

    async def start() -> None:
        await gateway.start()
        broker.port = gateway.port
        streamer.start()

    starters.append(start)
    closers.append(streamer.stop)
    closers.append(gateway.stop)
    return broker
