"""Manual orders from the trader's ticket: contract lookup, live checks, cancel-first replace."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from decimal import Decimal

from contracts.enums import LifecycleState
from contracts.events import CheckOutcome
from contracts.intent import Instrument, Intent
from contracts.market import ContractFacts
from engine.book import Book
from engine.bus import EventBus
from engine.fsm import CANCELLABLE
from engine.instruments import InstrumentMaster, with_facts
from engine.orders import OrderPath
from engine.pretrade import PreTradeRisk
from engine.results import CommandResult, ProposalResult
from engine.session import BrokerSession

MANUAL_STRATEGY = "manual"
REPLACE_CANCEL_WAIT_S = 10.0
"""How long an approved replacement waits for the broker to confirm the old order's cancel;
after it the replacement is not sent (the old order's cancel is left to the broker's answer)."""


@dataclass(frozen=True)
class ContractLookup:
    """What the ticket needs about a symbol: the instrument, the broker's facts, or why not."""

    instrument: Instrument
    facts: ContractFacts | None
    detail: str = ""


@dataclass(frozen=True)
class Replacement:
    """A pending intent that replaces a working order once approved."""

    old_intent_id: str
    filled_when_ticketed: Decimal
    """The old order's filled quantity when the ticket was opened: a fill after that changes
    what is left to replace, so the replacement is then not sent."""


class ManualDesk:
    """The ticket's engine side. A replacement's order of operations, once approved:

    1. the token is redeemed (one use; a bad token cancels nothing),
    2. the old order's cancel is sent and the broker's confirmation awaited,
    3. only when the old order is CANCELLED with no fill since the ticket was opened do the
       submit checks run and the replacement leave.

    So the two orders are never live together; the price is that nothing works for the
    cancel's round trip. A cancel refused, unanswered, or beaten by a fill: nothing is sent.
    """

    def __init__(
        self,
        book: Book,
        bus: EventBus,
        session: BrokerSession,
        instruments: InstrumentMaster,
        risk: PreTradeRisk,
        orders: OrderPath,
    ) -> None:
        self._book = book
        self._bus = bus
        self._session = session
        self._instruments = instruments
        self._risk = risk
        self._orders = orders
        self._replacing: dict[str, Replacement] = {}
        self.cancel_wait_s = REPLACE_CANCEL_WAIT_S

    async def lookup(self, symbol: str, wait_s: float = 0.5) -> ContractLookup:
        """The broker's facts for `symbol` (an instrument the engine already watches keeps its
        sec type, expiry...); subscribes to its quotes."""
        instrument = self._session.instruments.get(symbol) or Instrument(symbol=symbol)
        resolution = await self._instruments.resolve(instrument)
        if not resolution.ok or resolution.facts is None:
            return ContractLookup(instrument, None, resolution.detail or "unknown contract")
        await self._session.watch_quote(instrument, wait_s)
        return ContractLookup(instrument, resolution.facts)

    def check(self, intent: Intent) -> tuple[CheckOutcome, ...]:
        """Every pre-trade check on a ticket's intent now, without recording anything."""
        facts = self._instruments.facts(intent.order.instrument)
        return self._risk.evaluate(with_facts(intent, facts) if facts else intent)

    async def propose(self, intent: Intent, replaces: str | None = None) -> ProposalResult:
        """Offer the ticket's intent for approval, like any other (strategy `manual`)."""
        iid = intent.intent_id
        if intent.strategy != MANUAL_STRATEGY:
            return ProposalResult(False, iid, f"a ticket's strategy is {MANUAL_STRATEGY}")
        if replaces is not None:
            old = self._book.records.get(replaces)
            if old is None or old.state not in CANCELLABLE:
                state = old.state.value if old else "unknown"
                return ProposalResult(False, iid, f"{replaces} is {state}: nothing to replace")
            if old.intent.order.instrument.symbol != intent.order.instrument.symbol:
                return ProposalResult(False, iid, "a replacement keeps the order's symbol")
            self._replacing[iid] = Replacement(replaces, old.entry_filled)
        result = await self._orders.propose(intent, source="console:ticket")
        if not result.accepted:
            self._replacing.pop(iid, None)
        return result

    def replaces(self, intent_id: str) -> str | None:
        """The working order a pending intent replaces, if it is a replacement."""
        link = self._replacing.get(intent_id)
        return link.old_intent_id if link else None

    async def approve(self, intent_id: str, token: str, actor: str = "trader") -> CommandResult:
        """Approve a replacement: cancel the old order first (confirmed), then send."""
        link = self._replacing.get(intent_id)
        if link is None:
            return await self._orders.approve(intent_id, token, actor)

        async def cancel_old() -> CommandResult:
            self._replacing.pop(intent_id, None)
            return await self._cancel_confirmed(link)

        return await self._orders.approve(intent_id, token, actor, before_send=cancel_old)

    async def _cancel_confirmed(self, link: Replacement) -> CommandResult:
        old_id = link.old_intent_id
        old = self._book.records.get(old_id)
        if old is None or old.state not in CANCELLABLE:
            state = old.state.value if old else "unknown"
            return CommandResult(False, f"{old_id} is {state}: replacement not sent", "STATE")
        subscription = self._bus.subscribe()
        try:
            cancel = await self._orders.cancel(old_id, "replaced from the ticket")
            if not cancel.ok:
                return CommandResult(
                    False, f"cancel of {old_id} failed ({cancel.message}): replacement not sent"
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.cancel_wait_s):
                    while old.state is LifecycleState.PENDING_CANCEL:
                        await subscription.get()
        finally:
            subscription.close()
        if old.state is not LifecycleState.CANCELLED:
            return CommandResult(
                False, f"{old_id} is {old.state.value}, not cancelled: replacement not sent"
            )
        if old.entry_filled != link.filled_when_ticketed:
            return CommandResult(
                False,
                f"{old_id} filled {old.entry_filled} during the replace: replacement not sent",
            )
        return CommandResult(True, f"{old_id} cancelled")
