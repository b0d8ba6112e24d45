"""The engine as the console sees it: a Protocol of the facade's public methods."""

from __future__ import annotations

from typing import Protocol

from contracts.broker import Quote
from contracts.config import Config
from contracts.enums import DriftResolution
from contracts.events import CheckOutcome, RollbackCompleted
from contracts.intent import Intent
from engine.book import PendingOutcome
from engine.bus import Subscription
from engine.clock import Clock
from engine.manual import ContractLookup
from engine.promotion_ceremony import PromotionCeremony
from engine.results import CommandResult, ProposalResult
from engine.view import BeadView, EngineSnapshot


class EngineFeed(Protocol):
    """Where the engine publishes changes (its event bus)."""

    def subscribe(self, maxsize: int = ...) -> Subscription: ...


class ConsoleEngine(Protocol):
    """What the trading console calls on the engine facade (`engine.engine.Engine`)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def bus(self) -> EngineFeed: ...

    @property
    def last_rollback(self) -> RollbackCompleted | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def snapshot(self) -> EngineSnapshot: ...

    def quote(self, symbol: str) -> Quote | None: ...

    def pending_history(self) -> tuple[PendingOutcome, ...]: ...

    def audit_page(self, top_seq: int | None, n: int) -> tuple[int, tuple[BeadView, ...]]: ...

    async def cancel(self, intent_id: str, reason: str = "") -> CommandResult: ...

    def can_approve(self, intent_id: str) -> CommandResult: ...

    async def approve(self, intent_id: str, token: str) -> CommandResult: ...

    async def reject(self, intent_id: str, reason: str = "") -> CommandResult: ...

    async def kill(self, reason: str, actor: str = "trader") -> CommandResult: ...

    async def flatten(self, reason: str, actor: str = "trader") -> CommandResult: ...

    async def rearm(self, reason: str, actor: str = "trader") -> CommandResult: ...

    async def reconcile_now(self) -> CommandResult: ...

    async def resolve_drift(
        self, drift_id: str, resolution: DriftResolution, note: str, actor: str = "trader"
    ) -> CommandResult: ...

    async def rollback(self, reason: str, actor: str = "trader") -> CommandResult: ...

    @property
    def config(self) -> Config:
        """The configuration in force (risk limits changed since start included)."""
        ...

    def set_limit(
        self, key: str, value: str, reason: str = "", actor: str = "trader"
    ) -> CommandResult: ...

    def promotion_ceremony(self) -> PromotionCeremony:
        """The promotion ceremony over the running engine (evidence vetoes, T2 token)."""
        ...

    async def lookup_contract(self, symbol: str) -> ContractLookup: ...

    def check_intent(self, intent: Intent) -> tuple[CheckOutcome, ...]: ...

    async def propose_manual(
        self, intent: Intent, replaces: str | None = None
    ) -> ProposalResult: ...

    async def close_position(
        self, symbol: str, reason: str, actor: str = "trader"
    ) -> CommandResult: ...

    def reconnect_now(self) -> CommandResult: ...
