"""The approval desk: tokens waiting for the trader, with an audit record at every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from contracts.enums import LifecycleState, TokenRejection, Trigger
from contracts.events import TokenExpired, TokenIssued, TokenRejected, TokenUsed
from engine.book import Book, IntentRecord, PendingOutcome
from engine.clock import Clock
from engine.recorder import EventRecorder
from engine.tokens import TokenBook


@dataclass(frozen=True)
class PendingToken:
    token: str
    """The approval capability itself: never log it."""
    expires_monotonic: float


class ApprovalDesk:
    """Issues, redeems, expires and voids approval tokens; each change is an audit record.

    Every token ends in exactly one recorded way: TOKEN_USED, TOKEN_EXPIRED (reason EXPIRED),
    or TOKEN_EXPIRED with a VOID_* reason (restart, kill, trader reject).
    """

    def __init__(
        self, recorder: EventRecorder, book: Book, clock: Clock, *, expiry_s: float
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._clock = clock
        self.expiry_s = expiry_s
        self.tokens = TokenBook(expiry_s)
        self._pending: dict[str, PendingToken] = {}
        """intent_id -> the token waiting for the trader."""

    # --- issuing and redeeming ---------------------------------------------------------------

    def issue(self, rec: IntentRecord) -> None:
        """A fresh token for a PROPOSED intent, recorded as TOKEN_ISSUED."""
        iid = rec.intent.intent_id
        token, token_id, expires_mono = self.tokens.issue(
            iid, rec.intent.evidence_hash(), rec.intent.order.digest(), self._clock.monotonic()
        )
        self._pending[iid] = PendingToken(token, expires_mono)
        self._recorder.emit(
            TokenIssued(
                **self._recorder.now_pair(),
                intent_id=iid,
                token_id=token_id,
                evidence_hash=rec.intent.evidence_hash(),
                params_hash=rec.intent.order.digest(),
                expires_at=self._clock.now() + timedelta(seconds=self.expiry_s),
            )
        )

    def redeem(
        self, rec: IntentRecord | None, intent_id: str, token: str, actor: str = "trader"
    ) -> TokenRejection | str:
        """Consume the token for this intent: its token id, or why it was refused (recorded);
        the TOKEN_USED bead names the `actor` who approved."""
        if rec is None:
            self._recorder.emit(
                TokenRejected(
                    **self._recorder.now_pair(),
                    intent_id=intent_id,
                    token_id=None,
                    reason=TokenRejection.WRONG_INTENT,
                )
            )
            return TokenRejection.WRONG_INTENT
        redemption = self.tokens.redeem(
            token,
            intent_id,
            rec.intent.evidence_hash(),
            rec.intent.order.digest(),
            self._clock.monotonic(),
        )
        if not redemption.ok:
            assert redemption.rejection is not None
            self._recorder.emit(
                TokenRejected(
                    **self._recorder.now_pair(),
                    intent_id=intent_id,
                    token_id=redemption.token_id,
                    reason=redemption.rejection,
                )
            )
            if (
                redemption.rejection is TokenRejection.EXPIRED
                and redemption.token_id is not None
                and rec.state is LifecycleState.PROPOSED
                and rec.token_id == redemption.token_id
            ):
                self.expire(rec, redemption.token_id)
            return redemption.rejection
        assert redemption.token_id is not None
        self._pending.pop(intent_id, None)
        self._recorder.emit(
            TokenUsed(
                **self._recorder.now_pair(),
                intent_id=intent_id,
                token_id=redemption.token_id,
                actor=actor,
            )
        )
        return redemption.token_id

    # --- ending without approval -------------------------------------------------------------

    def expire(self, rec: IntentRecord, token_id: str) -> None:
        """The intent's token lapsed: record it, and the intent expires unapproved."""
        iid = rec.intent.intent_id
        self._pending.pop(iid, None)
        self._recorder.emit(
            TokenExpired(**self._recorder.now_pair(), intent_id=iid, token_id=token_id)
        )
        if rec.state is LifecycleState.PROPOSED:
            self._recorder.transition(rec, Trigger.TOKEN_EXPIRED)

    def expire_due(self) -> None:
        """Expire every token whose time is up (the engine's timer calls this)."""
        for token_id, intent_id in self.tokens.expire_due(self._clock.monotonic()):
            rec = self._book.records.get(intent_id)
            if rec is not None:
                self.expire(rec, token_id)

    def void(self, intent_id: str, reason: TokenRejection) -> None:
        """Void the intent's waiting token (kill, trader reject), with a record for each."""
        self._pending.pop(intent_id, None)
        for token_id in self.tokens.void_for_intent(intent_id, reason):
            self._recorder.emit(
                TokenExpired(
                    **self._recorder.now_pair(),
                    intent_id=intent_id,
                    token_id=token_id,
                    reason=reason,
                )
            )

    def void_all(self, reason: TokenRejection) -> int:
        """Void every waiting token (the kill switch); the intents expire unapproved."""
        waiting = list(self._pending)
        for intent_id in waiting:
            self.void(intent_id, reason)
            rec = self._book.records.get(intent_id)
            if rec is not None and rec.state is LifecycleState.PROPOSED:
                self._recorder.transition(rec, Trigger.TOKEN_EXPIRED)
        return len(waiting)

    def void_after_restart(self) -> int:
        """Tokens issued before a restart cannot be presented again: record each as void."""
        voided = 0
        for token_id, issued in list(self._book.issued_tokens.items()):
            rec = self._book.records.get(issued.intent_id)
            if rec and rec.token_id == token_id and rec.state is LifecycleState.PROPOSED:
                self._recorder.emit(
                    TokenExpired(
                        **self._recorder.now_pair(),
                        intent_id=issued.intent_id,
                        token_id=token_id,
                        reason=TokenRejection.VOID_AFTER_RESTART,
                    )
                )
                voided += 1
        self._book.issued_tokens.clear()
        return voided

    # --- observation -------------------------------------------------------------------------

    def pending(self, intent_id: str) -> PendingToken | None:
        return self._pending.get(intent_id)

    def is_live(self, intent_id: str) -> bool:
        """A token waits for this intent and has not run out."""
        waiting = self._pending.get(intent_id)
        return waiting is not None and self._clock.monotonic() < waiting.expires_monotonic

    def history(self) -> tuple[PendingOutcome, ...]:
        """Pending trades that ended unsent (expired, voided, rejected, denied), oldest first."""
        return tuple(self._book.pending_history)
