"""Engine components built alone, with real collaborators (store, book, bus, clock, broker fake)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.broker import BrokerEvent, QuoteUpdated
from contracts.enums import TokenRejection, TradingState
from contracts.events import IntentReceived, OrderSubmitting, parse_event
from engine.approvals import ApprovalDesk
from engine.audit import AuditStore
from engine.book import Book
from engine.bus import EventBus
from engine.clock import ManualClock, SystemClock
from engine.instruments import InstrumentMaster
from engine.killswitch import KillSwitch
from engine.limits import RiskLimits
from engine.orders import OrderPath
from engine.pretrade import PreTradeRisk
from engine.recorder import BackgroundTasks, EventRecorder
from engine.session import BrokerSession
from engine.throttle import OutboundThrottle
from tests.support import FakeBroker, config_with, eventually, make_intent


class Parts:
    """The shared collaborators every component takes, and nothing else."""

    def __init__(self, tmp_path: Path) -> None:
        self.config = config_with()
        self.clock = ManualClock()
        self.broker = FakeBroker(self.clock)
        self.store = AuditStore(tmp_path / "audit.sqlite")
        self.book = Book()
        self.recorder = EventRecorder(self.store, self.book, EventBus(), self.clock)
        self.session = BrokerSession(self.broker, self.recorder, is_paper=True)
        self.approvals = ApprovalDesk(self.recorder, self.book, self.clock, expiry_s=300)
        self.throttle = OutboundThrottle(50, SystemClock())
        self.instruments = InstrumentMaster(self.broker, lambda query, facts: None)
        self.limits = RiskLimits(self.config.risk, self.recorder)

    async def connect(self) -> None:
        self.broker.set_event_sink(self._quotes_only)
        await self.broker.connect()
        self.session.connected = True

    def _quotes_only(self, event: BrokerEvent) -> None:
        if isinstance(event, QuoteUpdated):
            self.session.on_quote(event.quote)

    def order_path(self) -> OrderPath:
        """The order path on these parts, with its pre-trade risk."""
        risk = PreTradeRisk(
            self.recorder,
            self.book,
            self.session,
            self.approvals,
            self.clock,
            self.config,
            instruments=self.instruments,
            limits=self.limits,
        )
        return OrderPath(
            self.recorder,
            self.book,
            self.session,
            self.approvals,
            risk,
            self.throttle,
            self.clock,
            self.config,
            instruments=self.instruments,
        )

    def kinds(self) -> list[str]:
        self.store.flush()
        return [r.kind for r in self.store.rows()]


async def test_kill_switch_alone_halts_voids_tokens_and_cancels_at_the_broker(
    tmp_path: Path,
) -> None:
    parts = Parts(tmp_path)
    await parts.connect()
    kill_switch = KillSwitch(
        parts.recorder,
        parts.book,
        parts.session,
        parts.approvals,
        parts.throttle,
        BackgroundTasks(),
        parts.clock,
        parts.config,
        limits=parts.limits,
    )
    orders = parts.order_path()
    parts.broker.quote("AAPL", "99.99", "100.01")
    intent = make_intent(parts.clock)
    assert (await orders.propose(intent)).accepted
    token = parts.approvals.pending(intent.intent_id)
    assert token is not None

    result = await kill_switch.kill("test", actor="unit")

    assert result.ok and kill_switch.state is TradingState.HALTED
    await eventually(lambda: parts.broker.cancel_all_calls >= 1)
    await eventually(lambda: parts.book.kill_confirmed is True)
    assert parts.approvals.pending(intent.intent_id) is None
    refused = await orders.approve(intent.intent_id, token.token)
    assert not refused.ok and refused.code == TokenRejection.VOID_KILL
    assert "TOKEN_EXPIRED" in parts.kinds()
    await kill_switch.stop()
    parts.store.close()


async def test_approval_desk_alone_records_every_token_state_change(tmp_path: Path) -> None:
    parts = Parts(tmp_path)
    intent = make_intent(parts.clock)
    parts.recorder.emit(IntentReceived(**parts.recorder.now_pair(), intent=intent, source="t"))
    rec = parts.book.records[intent.intent_id]
    parts.approvals.issue(rec)
    parts.clock.advance(301)
    parts.approvals.expire_due()
    history = parts.approvals.history()
    assert [h.outcome for h in history] == ["EXPIRED"]
    assert parts.kinds()[-3:] == ["TOKEN_ISSUED", "TOKEN_EXPIRED", "POSITION"]
    parts.store.close()


async def test_the_write_ahead_carries_the_quote_at_send(tmp_path: Path) -> None:
    parts = Parts(tmp_path)
    await parts.connect()
    orders = parts.order_path()
    parts.broker.quote("AAPL", "99.99", "100.01")
    intent = make_intent(parts.clock)
    assert (await orders.propose(intent)).accepted
    token = parts.approvals.pending(intent.intent_id)
    assert token is not None
    assert (await orders.approve(intent.intent_id, token.token)).ok
    parts.store.flush()
    (row,) = [r for r in parts.store.rows() if r.kind == "SUBMITTING"]
    written = parse_event(row.payload)
    assert isinstance(written, OrderSubmitting) and written.quote is not None
    assert written.quote.bid == Decimal("99.99") and written.quote.ask == Decimal("100.01")
    parts.store.close()
