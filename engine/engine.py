"""The Engine facade: commands in, events applied, snapshots out. (Being implemented.)"""

from __future__ import annotations

from contracts.config import Config
from contracts.intent import Intent
from engine.bus import EventBus
from engine.clock import Clock, SystemClock
from engine.ports import BrokerPort
from engine.results import CommandResult, ProposalResult
from engine.view import EngineSnapshot


class Engine:
    """Owns lifecycle, approvals, risk, kill switch and audit; one asyncio loop, never blocks.

    Commands: propose, approve, reject, kill, rearm, flatten, reconcile_now, can_approve.
    Observation: `bus.subscribe()` for change notifications, `snapshot()` for the state.
    """

    def __init__(
        self,
        config: Config,
        broker: BrokerPort,
        *,
        data_dir: object | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.broker = broker
        self.clock: Clock = clock or SystemClock()
        self.bus = EventBus()

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def snapshot(self) -> EngineSnapshot:
        raise NotImplementedError

    async def propose(self, intent: Intent, source: str = "api") -> ProposalResult:
        raise NotImplementedError

    def can_approve(self, intent_id: str) -> CommandResult:
        raise NotImplementedError

    async def approve(self, intent_id: str, token: str) -> CommandResult:
        raise NotImplementedError

    async def reject(self, intent_id: str, reason: str = "") -> CommandResult:
        raise NotImplementedError

    async def kill(self, reason: str, actor: str = "trader") -> CommandResult:
        raise NotImplementedError

    async def rearm(self, reason: str, actor: str = "trader") -> CommandResult:
        raise NotImplementedError

    async def flatten(self, reason: str, actor: str = "trader") -> CommandResult:
        raise NotImplementedError

    async def reconcile_now(self) -> CommandResult:
        raise NotImplementedError
