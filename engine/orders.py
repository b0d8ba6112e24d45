"""The order path: propose, offer, approve, write ahead, send; reject, cancel, stall."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from decimal import Decimal

from contracts.broker import OrderRequest, order_ref_for
from contracts.config import Config
from contracts.enums import (
    AlertLevel,
    LifecycleState,
    OrderLeg,
    TokenRejection,
    TradingState,
    Trigger,
)
from contracts.events import (
    CancelRequested,
    IntentReceived,
    OrderStalled,
    OrderSubmitting,
    PositionBead,
    SubmitFailed,
    TraderRejected,
)
from contracts.intent import Intent
from engine import crashpoints
from engine.approvals import ApprovalDesk
from engine.audit import AuditUnavailable
from engine.book import Book, IntentRecord
from engine.clock import Clock
from engine.execution_styles import first_child_quantity
from engine.fsm import CANCELLABLE
from engine.instruments import InstrumentMaster, with_facts
from engine.ports import BrokerUnavailable
from engine.pretrade import PreTradeRisk
from engine.previews import PreviewDesk
from engine.recorder import EventRecorder
from engine.results import CommandResult, ProposalResult
from engine.session import BrokerSession
from engine.throttle import OutboundThrottle

"""An execution style's child size step, until an instrument master gives the venue's."""
RESYNC_WAIT_S = 10.0
"""How long an approved order waits for the reconciliation after a reconnect before failing."""

SAFETY_EXEMPTIONS = frozenset({"flatten"})
"""Exempt orders that only reduce risk: sent even when the write-ahead cannot be synced."""


def order_request_for(
    intent: Intent, leg: OrderLeg = OrderLeg.ENTRY, *, quantity: Decimal | None = None
) -> OrderRequest:
    """The broker request for an intent's leg; its orderRef is derived from the intent id.

    `quantity` sends less than the intent (an execution style's first child), never more.
    """
    o = intent.order
    if quantity is not None and not 0 < quantity <= o.quantity:
        raise ValueError(f"child quantity {quantity} outside the approved {o.quantity}")
    return OrderRequest(
        order_ref=order_ref_for(intent.intent_id, leg),
        instrument=o.instrument,
        side=o.side,
        quantity=o.quantity if quantity is None else quantity,
        order_type=o.order_type,
        limit_price=o.limit_price,
        stop_price=o.stop_price,
        tif=o.tif,
        stop_loss=o.stop_loss,
        take_profit=o.take_profit,
    )


class OrderPath:
    """Every order the engine places goes through `send`, after a used token or an exemption."""

    def __init__(
        self,
        recorder: EventRecorder,
        book: Book,
        session: BrokerSession,
        approvals: ApprovalDesk,
        risk: PreTradeRisk,
        throttle: OutboundThrottle,
        clock: Clock,
        config: Config,
        *,
        instruments: InstrumentMaster,
        previews: PreviewDesk | None = None,
    ) -> None:
        self._recorder = recorder
        self.previews = previews
        """WhatIf previews bound to each approval (None: never previewed)."""
        self._book = book
        self._session = session
        self._approvals = approvals
        self._risk = risk
        self._throttle = throttle
        self._clock = clock
        self._config = config
        self._instruments = instruments
        self._submitted_mono: dict[str, float] = {}
        """intent_id -> monotonic send time, until the broker acks (for STALLED)."""

    # --- intake ------------------------------------------------------------------------------

    async def propose(self, intent: Intent, source: str = "api") -> ProposalResult:
        """Complete the instrument with the broker's facts, record the intent durably, run the
        checks, and offer it for approval (a contract the broker does not know is denied)."""
        iid = intent.intent_id
        if iid in self._book.records:
            return ProposalResult(False, iid, f"intent {iid} already exists; ids are single use")
        contract = await self._instruments.resolve(intent.order.instrument)
        if contract.ok and contract.facts is not None:
            intent = with_facts(intent, contract.facts)
        if iid in self._book.records:  # the same id proposed again while the broker answered
            return ProposalResult(False, iid, f"intent {iid} already exists; ids are single use")
        try:
            self._recorder.emit(
                IntentReceived(**self._recorder.now_pair(), intent=intent, source=source),
                durable=True,
            )
        except AuditUnavailable as exc:
            return ProposalResult(False, iid, f"not recorded, audit store unavailable: {exc}")
        crashpoints.hit("intent_recorded")
        rec = self._book.records[iid]
        self._mark_proposed(rec)
        await self._session.watch_quote(intent.order.instrument)
        return await self.offer_for_approval(rec, stage="proposal")

    def _mark_proposed(self, rec: IntentRecord) -> None:
        self._recorder.emit(
            PositionBead(
                **self._recorder.now_pair(),
                intent_id=rec.intent.intent_id,
                from_state=None,
                to_state=LifecycleState.PROPOSED,
                trigger=None,
                requested=rec.requested,
                filled=Decimal(0),
            )
        )

    async def offer_for_approval(self, rec: IntentRecord, stage: str) -> ProposalResult:
        iid = rec.intent.intent_id
        checks = self._risk.run_checks(rec.intent, stage)
        if checks.denials:
            self._risk.deny(rec, checks)
            reasons = "; ".join(f"{d.reason}: {d.detail}" for d in checks.denials)
            return ProposalResult(False, iid, f"denied: {reasons}", checks.denials)
        self._approvals.issue(rec)
        request = self.approval_request(rec.intent)
        if self.previews is not None and request is not None:
            self.previews.request(iid, rec.token_id or "", request)
        return ProposalResult(True, iid, "waiting for approval")

    # --- approval -----------------------------------------------------------------------------

    def can_approve(self, intent_id: str) -> CommandResult:
        """Whether approve would be accepted now (for greying out the key), and why not."""
        rec = self._book.records.get(intent_id)
        if rec is None:
            return CommandResult(False, f"no intent {intent_id}", "UNKNOWN_INTENT")
        if rec.state is not LifecycleState.PROPOSED:
            return CommandResult(False, f"{intent_id} is {rec.state}", "NOT_PENDING")
        if not self._approvals.is_live(intent_id):
            return CommandResult(False, "approval token expired", TokenRejection.EXPIRED)
        pending_preview = self.previews.waiting(intent_id) if self.previews else None
        if pending_preview is not None:
            return CommandResult(False, pending_preview, "PREVIEW_PENDING")
        denied = [c for c in self._risk.evaluate(rec.intent) if not c.passed]
        if denied:
            d = denied[0]
            return CommandResult(False, f"{d.reason}: {d.detail}", str(d.reason))
        return CommandResult(True, "ready to approve")

    async def approve(
        self,
        intent_id: str,
        token: str,
        actor: str = "trader",
        *,
        before_send: Callable[[], Awaitable[CommandResult]] | None = None,
    ) -> CommandResult:
        """Check the order is the one previewed, redeem the token (atomically), re-check risk,
        write ahead, then send exactly the previewed order (PreviewDesk.gate).

        `before_send` runs once the token is used and before the submit checks (a replacement
        cancels the order it replaces there); if it fails, nothing is sent."""
        rec = self._book.records.get(intent_id)
        planned = self.approval_request(rec.intent) if rec is not None else None
        if self.previews is not None and rec is not None and planned is not None:
            gate = await self._preview_gate(rec, planned)
            if gate is not None:
                return gate
        redeemed = self._approvals.redeem(rec, intent_id, token, actor)
        if rec is None:
            return CommandResult(False, f"no intent {intent_id}", "UNKNOWN_INTENT")
        if isinstance(redeemed, TokenRejection):
            return CommandResult(False, f"token refused: {redeemed}", str(redeemed))
        if not self._recorder.transition(rec, Trigger.APPROVE):
            return CommandResult(False, f"{intent_id} is {rec.state}: not approvable", "STATE")
        approved_at = rec.state_since
        self._session.sample("intent_to_approve", rec.received_at, approved_at)
        if not await self._wait_for_resync():
            self._recorder.transition(rec, Trigger.SUBMIT_FAILED)
            self._recorder.alert(
                AlertLevel.WARNING, "NOT_SENT", f"{intent_id}: broker not reconciled yet", intent_id
            )
            return CommandResult(
                False, "broker not reconciled since the reconnect: order not sent", "RESYNC"
            )
        if before_send is not None:
            ready = await before_send()
            if not ready.ok:
                self._recorder.transition(rec, Trigger.SUBMIT_FAILED)
                self._recorder.alert(AlertLevel.WARNING, "NOT_SENT", ready.message, intent_id)
                return ready
        checks = self._risk.run_checks(rec.intent, "submit")
        if checks.denials:
            self._risk.deny(rec, checks)
            d = checks.denials[0]
            return CommandResult(False, f"denied at submit: {d.reason}: {d.detail}", str(d.reason))
        if planned is None:
            return CommandResult(
                False, "contract facts not known: order not sent", "UNKNOWN_INSTRUMENT"
            )
        sent = await self.send(rec, planned, token_id=redeemed)
        self._session.sample("approve_to_submit", approved_at, rec.submitted_at)
        return sent

    async def _preview_gate(self, rec: IntentRecord, planned: OrderRequest) -> CommandResult | None:
        """PREVIEW_MISMATCH (alerted) when `planned` is not the previewed order; else None."""
        assert self.previews is not None
        iid = rec.intent.intent_id
        if rec.state is not LifecycleState.PROPOSED:
            return None
        gate = await self.previews.gate(iid, rec.token_id or "", planned)
        if gate.ok:
            return None
        self._recorder.alert(AlertLevel.WARNING, "PREVIEW_MISMATCH", f"{iid}: {gate.message}", iid)
        return gate

    def approval_request(self, intent: Intent) -> OrderRequest | None:
        """The order approving `intent` sends (an execution style's first child); None while
        the contract's facts are not known."""
        steps = self.contract_steps(intent)
        if steps is None:
            return None
        first = first_child_quantity(intent.order, steps[1])
        return order_request_for(intent, quantity=first)

    def contract_steps(self, intent: Intent) -> tuple[Decimal, Decimal] | None:
        """(min tick, size increment) of the intent's contract, from the instrument master;
        None while the broker's facts are not known (then nothing is sent)."""
        facts = self._instruments.facts(intent.order.instrument)
        return None if facts is None else (facts.min_tick, facts.size_increment)

    async def _wait_for_resync(self) -> bool:
        """After a (re)connect, new orders wait until broker truth has been reconciled."""
        if self._session.resynced.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._session.resynced.wait(), RESYNC_WAIT_S)
        return self._session.resynced.is_set()

    async def reject(self, intent_id: str, reason: str = "") -> CommandResult:
        rec = self._book.records.get(intent_id)
        if rec is None:
            return CommandResult(False, f"no intent {intent_id}", "UNKNOWN_INTENT")
        if rec.state is not LifecycleState.PROPOSED:
            return CommandResult(False, f"{intent_id} is {rec.state}: nothing to reject", "STATE")
        self._approvals.void(intent_id, TokenRejection.VOID_REJECTED)
        self._recorder.emit(
            TraderRejected(**self._recorder.now_pair(), intent_id=intent_id, reason=reason)
        )
        self._recorder.transition(rec, Trigger.TRADER_REJECT)
        return CommandResult(True, f"{intent_id} rejected")

    # --- the send ------------------------------------------------------------------------------

    def open_exempt(self, intent: Intent, source: str) -> IntentRecord:
        """Record an engine-made, risk-reducing intent (flatten) and move it to APPROVED.

        Recorded through the safety path: the store refusing it never stops the order.
        """
        self._recorder.record_safety(
            IntentReceived(**self._recorder.now_pair(), intent=intent, source=source)
        )
        rec = self._book.records[intent.intent_id]
        self._mark_proposed(rec)
        self._recorder.transition(rec, Trigger.APPROVE)
        return rec

    async def send(
        self,
        rec: IntentRecord,
        request: OrderRequest,
        *,
        token_id: str | None,
        exempt: str | None = None,
    ) -> CommandResult:
        """The only place an order leaves. Requires a used token or an audited exemption.

        Orders that may add risk leave only after their write-ahead record is synced; the
        flatten exemption (risk-reducing only) is sent even if the store refuses, queued.
        """
        iid = rec.intent.intent_id
        if token_id is None and exempt is None:
            raise PermissionError("an order without a token needs an audited exemption")
        if not self._session.connected:
            self._recorder.transition(rec, Trigger.SUBMIT_FAILED)
            self._recorder.alert(AlertLevel.WARNING, "NOT_SENT", f"{iid}: broker disconnected", iid)
            return CommandResult(False, "broker disconnected: order not sent", "DISCONNECTED")
        write_ahead = OrderSubmitting(
            **self._recorder.now_pair(),
            intent_id=iid,
            request=request,
            token_id=token_id,
            exempt=exempt,
            quote=self._session.quote(request.instrument.symbol),
        )
        if exempt in SAFETY_EXEMPTIONS:
            self._recorder.record_safety(write_ahead)
        else:
            try:
                self._recorder.write_ahead(write_ahead)
            except AuditUnavailable as exc:
                with contextlib.suppress(AuditUnavailable):
                    self._recorder.transition(rec, Trigger.SUBMIT_FAILED)
                    self._recorder.alert(
                        AlertLevel.CRITICAL, "AUDIT_UNAVAILABLE", f"{iid} not sent: {exc}", iid
                    )
                return CommandResult(
                    False, f"order not sent: audit store unavailable ({exc})", "AUDIT_UNAVAILABLE"
                )
        # The head anchor is tamper evidence, not the write-ahead: the engine's flusher writes it
        # within its period, once the order has left and its acknowledgement has been taken in
        # (written inline, its sync's thread hand-off cost the ack a millisecond). A crash first
        # leaves the anchor a commit behind, as a crash between any commit and its anchor does.
        return await self._submit(rec, request, exempt)

    async def _submit(
        self, rec: IntentRecord, request: OrderRequest, exempt: str | None
    ) -> CommandResult:
        """After the write-ahead: mark it SUBMITTED, wait for a send slot, send."""
        iid = rec.intent.intent_id
        self._recorder.transition(rec, Trigger.SUBMIT)
        self._submitted_mono[iid] = self._clock.monotonic()
        self._risk.note_sent(rec.intent)
        self._session.sample("intent_to_submit", rec.received_at, rec.submitted_at)
        await self._throttle.acquire()
        if self._book.trading_state is TradingState.HALTED and exempt is None:
            # The kill switch was thrown while this order waited for a send slot: it stays home.
            self._recorder.emit(
                SubmitFailed(
                    **self._recorder.now_pair(),
                    intent_id=iid,
                    order_ref=request.order_ref,
                    reason="kill switch thrown while queued: not sent",
                )
            )
            self._recorder.transition(rec, Trigger.SUBMIT_FAILED)
            self._submitted_mono.pop(iid, None)
            self._recorder.alert(AlertLevel.WARNING, "NOT_SENT", f"{iid}: halted while queued", iid)
            return CommandResult(False, "HALTED while queued: order not sent", "HALTED")
        crashpoints.hit("write_ahead_synced")
        try:
            await self._session.broker.submit(request)
        except BrokerUnavailable as exc:
            self._recorder.emit(
                SubmitFailed(
                    **self._recorder.now_pair(),
                    intent_id=iid,
                    order_ref=request.order_ref,
                    reason=str(exc),
                )
            )
            self._recorder.transition(rec, Trigger.SUBMIT_FAILED)
            self._submitted_mono.pop(iid, None)
            self._recorder.alert(AlertLevel.CRITICAL, "SUBMIT_FAILED", f"{iid}: {exc}", iid)
            return CommandResult(False, f"broker refused to send: {exc}", "SUBMIT_FAILED")
        crashpoints.hit("order_sent")
        return CommandResult(True, f"{iid} sent ({request.order_ref})")

    async def cancel(self, intent_id: str, reason: str = "") -> CommandResult:
        """Cancel a working entry order (its bracket exits go with it). Never blocked: a cancel
        only reduces risk, so it is allowed while HALTED; the broker confirms it."""
        rec = self._book.records.get(intent_id)
        if rec is None:
            return CommandResult(False, f"no intent {intent_id}", "UNKNOWN_INTENT")
        if rec.state not in CANCELLABLE or not rec.order_ref:
            return CommandResult(False, f"{intent_id} is {rec.state}: no working order", "STATE")
        if not self._session.connected:
            return CommandResult(False, "broker disconnected: cancel not sent", "DISCONNECTED")
        if rec.state is not LifecycleState.PENDING_CANCEL:
            self._recorder.transition(rec, Trigger.CANCEL_SENT)  # before: the answer may be quick
        await self._throttle.acquire(urgent=True)
        try:
            await self._session.broker.cancel(rec.order_ref)
        except BrokerUnavailable as exc:
            if rec.state is LifecycleState.PENDING_CANCEL:
                self._recorder.transition(rec, Trigger.CANCEL_REJECTED)
            return CommandResult(False, f"cancel not sent: {exc}", "BROKER_UNAVAILABLE")
        finally:
            self._recorder.record_safety(
                CancelRequested(
                    **self._recorder.now_pair(),
                    intent_id=intent_id,
                    order_ref=rec.order_ref,
                    reason=reason.strip() or "trader",
                )
            )
        return CommandResult(True, f"cancel sent for {intent_id}; waiting for the broker")

    # --- timers ---------------------------------------------------------------------------------

    def stall_silent_orders(self) -> None:
        """Orders with no broker ack within the stall timeout become STALLED, with an alert."""
        mono = self._clock.monotonic()
        stall = self._config.lifecycle.stall_timeout_s
        for intent_id, since in list(self._submitted_mono.items()):
            rec = self._book.records.get(intent_id)
            if rec is None or rec.acked_at is not None or rec.state is not LifecycleState.SUBMITTED:
                self._submitted_mono.pop(intent_id, None)
                continue
            if mono - since >= stall:
                self._submitted_mono.pop(intent_id, None)
                self._recorder.emit(
                    OrderStalled(
                        **self._recorder.now_pair(), intent_id=intent_id, waited_s=mono - since
                    )
                )
                self._recorder.transition(rec, Trigger.ACK_TIMEOUT)
                self._recorder.alert(
                    AlertLevel.CRITICAL,
                    "STALLED",
                    f"{intent_id}: no broker ack after {mono - since:.0f}s",
                    intent_id,
                )
