"""Engine events: immutable facts, each appended to the audit log as a bead before it applies."""

from __future__ import annotations

import os
import random
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, JsonValue, TypeAdapter

from contracts.base import Frozen
from contracts.broker import OrderRequest, Quote
from contracts.enums import (
    AlertLevel,
    DenialReason,
    DriftResolution,
    DriftSeverity,
    DriftType,
    LifecycleState,
    OrderLeg,
    Side,
    TokenRejection,
    TradingState,
    Trigger,
)
from contracts.intent import Instrument, Intent
from contracts.market import ContractFacts, MarginPreview

_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def new_event_id() -> str:
    """128 random bits as 32 hex digits (an event's name, not a secret: tokens use `secrets`).

    Drawn from a generator seeded from the OS (reseeded in a forked child): one system call per
    process, not one per event, on the order path's five beads."""
    return f"{_ids.getrandbits(128):032x}"


class EngineEvent(Frozen):
    """Base: every event has an id, the time it happened and the time the engine saw it."""

    event_id: str = Field(default_factory=new_event_id)
    ts_event: AwareDatetime
    ts_init: AwareDatetime


class CheckOutcome(Frozen):
    """One pre-trade check's result, passed or not, for the evidence panel."""

    name: str
    passed: bool
    detail: str
    reason: DenialReason | None = None


# --- intake and approval -------------------------------------------------------------


class ContractResolved(EngineEvent):
    """The instrument master asked the broker about a contract and cached its answer."""

    kind: Literal["CONTRACT"] = "CONTRACT"
    query: Instrument
    facts: ContractFacts


class LimitChanged(EngineEvent):
    """A risk limit changed on the running engine (loosening carries the trader's reason)."""

    kind: Literal["LIMIT"] = "LIMIT"
    key: str
    old: str
    new: str
    tightens: bool
    reason: str = ""
    actor: str


class IntentReceived(EngineEvent):
    kind: Literal["INTENT"] = "INTENT"
    intent: Intent
    source: str


class RiskChecked(EngineEvent):
    """The pre-trade checks ran (at proposal or at submit); denied if any failed."""

    kind: Literal["RISK_CHECK"] = "RISK_CHECK"
    intent_id: str
    stage: Literal["proposal", "approval", "submit", "limits"]
    checks: tuple[CheckOutcome, ...]

    @property
    def denials(self) -> tuple[CheckOutcome, ...]:
        return tuple(c for c in self.checks if not c.passed)


class TokenIssued(EngineEvent):
    """A token was issued. The token itself never enters the log: only its id (a hash)."""

    kind: Literal["TOKEN_ISSUED"] = "TOKEN_ISSUED"
    intent_id: str
    token_id: str
    evidence_hash: str
    params_hash: str
    expires_at: AwareDatetime


class TokenUsed(EngineEvent):
    kind: Literal["TOKEN_USED"] = "TOKEN_USED"
    intent_id: str
    token_id: str
    actor: str = "trader"
    """Who approved: the trader at the console, or a named approver (the paper drill's)."""


class TokenExpired(EngineEvent):
    kind: Literal["TOKEN_EXPIRED"] = "TOKEN_EXPIRED"
    intent_id: str
    token_id: str
    reason: TokenRejection = TokenRejection.EXPIRED


class TokenRejected(EngineEvent):
    kind: Literal["TOKEN_REJECTED"] = "TOKEN_REJECTED"
    intent_id: str
    token_id: str | None
    reason: TokenRejection


class TraderRejected(EngineEvent):
    kind: Literal["TRADER_REJECTED"] = "TRADER_REJECTED"
    intent_id: str
    reason: str = ""


# --- the order path --------------------------------------------------------------------


class OrderSubmitting(EngineEvent):
    """Write-ahead record, fully synced before the order leaves."""

    kind: Literal["SUBMITTING"] = "SUBMITTING"
    intent_id: str
    request: OrderRequest
    token_id: str | None
    exempt: str | None = None
    """Why no token was needed ("flatten"); None on the normal path."""
    quote: Quote | None = None
    """The market when the order left (the fill journal measures slippage against it)."""


class SubmitFailed(EngineEvent):
    kind: Literal["SUBMIT_FAILED"] = "SUBMIT_FAILED"
    intent_id: str
    order_ref: str
    reason: str


class OrderAcknowledged(EngineEvent):
    kind: Literal["ACK"] = "ACK"
    intent_id: str
    order_ref: str
    perm_id: int
    broker_order_id: int


class FillRecorded(EngineEvent):
    kind: Literal["FILL"] = "FILL"
    intent_id: str
    order_ref: str
    leg: OrderLeg
    exec_id: str
    perm_id: int
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    cum_quantity: Decimal
    remaining: Decimal


class CommissionRecorded(EngineEvent):
    kind: Literal["COMMISSION"] = "COMMISSION"
    exec_id: str
    commission: Decimal
    realized_pnl: Decimal | None = None


class OrderRejectedByBroker(EngineEvent):
    kind: Literal["BROKER_REJECT"] = "BROKER_REJECT"
    intent_id: str
    order_ref: str
    code: int
    reason: str


class CancelRequested(EngineEvent):
    kind: Literal["CANCEL_REQUESTED"] = "CANCEL_REQUESTED"
    intent_id: str | None
    order_ref: str | None
    """None means a global cancel."""
    reason: str


class OrderCancelConfirmed(EngineEvent):
    kind: Literal["CANCELLED"] = "CANCELLED"
    intent_id: str
    order_ref: str
    filled: Decimal = Decimal(0)
    reason: str = ""


class OrderStalled(EngineEvent):
    kind: Literal["STALLED"] = "STALLED"
    intent_id: str
    waited_s: float


class PositionBead(EngineEvent):
    """A lifecycle transition (every transition writes one)."""

    kind: Literal["POSITION"] = "POSITION"
    intent_id: str
    from_state: LifecycleState | None
    to_state: LifecycleState
    trigger: Trigger | None
    requested: Decimal
    filled: Decimal

    @property
    def ratio(self) -> Decimal:
        return self.filled / self.requested if self.requested else Decimal(0)


class TransitionRefused(EngineEvent):
    kind: Literal["INVALID_TRANSITION"] = "INVALID_TRANSITION"
    intent_id: str
    state: LifecycleState
    trigger: Trigger
    detail: str = ""


# --- kill switch, alerts ---------------------------------------------------------------


class TradingStateChanged(EngineEvent):
    kind: Literal["TRADING_STATE"] = "TRADING_STATE"
    previous: TradingState
    current: TradingState
    reason: str
    actor: str


class KillFlagRaised(EngineEvent):
    kind: Literal["KILL_FLAG"] = "KILL_FLAG"
    flag: str
    reason: str
    expires_at: AwareDatetime | None = None


class KillFlagCleared(EngineEvent):
    kind: Literal["KILL_FLAG_CLEARED"] = "KILL_FLAG_CLEARED"
    flag: str
    reason: str


class KillConfirmation(EngineEvent):
    """Whether the broker has confirmed no working orders after a kill."""

    kind: Literal["KILL_CONFIRMATION"] = "KILL_CONFIRMATION"
    confirmed: bool
    working_orders: int


class AlertRaised(EngineEvent):
    kind: Literal["ALERT"] = "ALERT"
    level: AlertLevel
    code: str
    message: str
    intent_id: str | None = None


# --- reconciliation ----------------------------------------------------------------------


class DriftDetected(EngineEvent):
    """The engine and the broker disagree. Nothing is corrected automatically."""

    kind: Literal["RECONCILIATION_DRIFT"] = "RECONCILIATION_DRIFT"
    drift_id: str
    drift_type: DriftType
    subject: str
    """What the drift is about: a symbol or an orderRef."""
    engine_state: dict[str, str]
    broker_state: dict[str, str]
    severity: DriftSeverity


class DriftResolved(EngineEvent):
    kind: Literal["RECONCILIATION_RESOLUTION"] = "RECONCILIATION_RESOLUTION"
    drift_id: str
    resolution: DriftResolution
    note: str
    actor: str


class PositionCorrected(EngineEvent):
    """The trader told the engine to adopt the broker's position (ENGINE_CORRECTED)."""

    kind: Literal["POSITION_CORRECTED"] = "POSITION_CORRECTED"
    symbol: str
    quantity: Decimal
    avg_price: Decimal
    drift_id: str


class ReconciliationRun(EngineEvent):
    kind: Literal["RECONCILED"] = "RECONCILED"
    reason: str
    drifts: int
    positions: int
    open_orders: int


class EngineStarted(EngineEvent):
    kind: Literal["ENGINE_STARTED"] = "ENGINE_STARTED"
    mode: str
    broker: str
    voided_tokens: int = 0


# --- go-live: sign-offs, paper policy, rollback, promotion, live override -------------------


class SignOffRecorded(EngineEvent):
    """A named person in a go-live role signed off (recorded by `deskgate signoff`)."""

    kind: Literal["SIGNOFF"] = "SIGNOFF"
    role: str
    name: str
    note: str = ""
    verdict: Literal["APPROVE", "REJECT"] = "APPROVE"
    evidence_hash: str = ""
    """The evidence version signed (sha256 of the evidence files); empty on older beads."""


class AutoApprovePolicySet(EngineEvent):
    """A paper session approves its own intents, through the same token path, under this policy."""

    kind: Literal["AUTO_APPROVE_POLICY"] = "AUTO_APPROVE_POLICY"
    policy: str
    mode: str
    symbols: tuple[str, ...]
    max_trades: int
    risk_overrides: dict[str, str]
    """The session's risk limits that differ from the configured ones, and their values."""
    reason: str


class RollbackStarted(EngineEvent):
    kind: Literal["ROLLBACK_STARTED"] = "ROLLBACK_STARTED"
    reason: str
    actor: str
    automatic: bool = False
    nav_at_session_start: Decimal | None = None


class RollbackCompleted(EngineEvent):
    """The rollback's outcome: verified means flat, no open orders and NAV within tolerance."""

    kind: Literal["ROLLBACK_COMPLETED"] = "ROLLBACK_COMPLETED"
    reason: str
    actor: str
    verified: bool
    duration_s: float
    flat: bool
    open_orders: int
    positions: dict[str, Decimal]
    nav_start: Decimal | None = None
    nav_end: Decimal | None = None
    nav_change_pct: Decimal | None = None
    problems: tuple[str, ...] = ()


class PromotionRequested(EngineEvent):
    kind: Literal["PROMOTION_REQUESTED"] = "PROMOTION_REQUESTED"
    strategy: str
    from_stage: str
    to_stage: str
    requester: str
    evidence: dict[str, str]
    """The evidence bundle's summary numbers (sessions, regimes, drawdown, Sharpe, ...)."""


class PromotionApproved(EngineEvent):
    kind: Literal["PROMOTION_APPROVED"] = "PROMOTION_APPROVED"
    strategy: str
    to_stage: str
    approver: str
    tier: str


class PromotionRefused(EngineEvent):
    kind: Literal["PROMOTION_REFUSED"] = "PROMOTION_REFUSED"
    strategy: str
    to_stage: str
    actor: str
    reasons: tuple[str, ...]


class OrderModified(EngineEvent):
    """A modify of a working order (an execution style's entry step, or a strategy's stop
    leg), and the broker's answer."""

    kind: Literal["ORDER_MODIFIED"] = "ORDER_MODIFIED"
    intent_id: str
    order_ref: str
    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    confirmed: bool
    reason: str = ""
    """Why it was not confirmed (refused, not sent); empty when confirmed."""
    stop_price: Decimal | None = None
    """A stop leg's new trigger price (a strategy's stop move or exit)."""
    purpose: str = ""
    """Why it was asked: empty for an execution style; 'stop_move: ...' or
    'strategy_exit:<reason>: ...' for the strategy runtime's supervised modifies."""


class LiveOverride(EngineEvent):
    """The trader started live mode although gate 8 did not pass, with a typed reason."""

    kind: Literal["LIVE_OVERRIDE"] = "LIVE_OVERRIDE"
    actor: str
    reason: str
    open_gates: tuple[str, ...]


class StrategyRecorded(EngineEvent):
    """A strategy runtime record (decision, trade, learning change, shadow session) as JSON;
    `deskgate journal` and `deskgate learning` read them back (engine.strategy.store)."""

    kind: Literal["STRATEGY"] = "STRATEGY"
    record: dict[str, JsonValue]


class PreviewRecorded(EngineEvent):
    """The broker's whatIf preview of exactly the order an approval would send (or why there is
    none), bound to the intent's token by the hash of that order: the approval's evidence."""

    kind: Literal["PREVIEW"] = "PREVIEW"
    intent_id: str
    token_id: str
    order_hash: str
    request: OrderRequest
    status: Literal["READY", "FAILED", "NONE"]
    """READY: the broker answered; FAILED: it refused or errored; NONE: approve went ahead after
    the bounded wait with no answer."""
    preview: MarginPreview | None = None
    reason: str = ""


AuditedEvent = Annotated[
    IntentReceived
    | ContractResolved
    | LimitChanged
    | RiskChecked
    | TokenIssued
    | TokenUsed
    | TokenExpired
    | TokenRejected
    | TraderRejected
    | OrderSubmitting
    | SubmitFailed
    | OrderAcknowledged
    | FillRecorded
    | CommissionRecorded
    | OrderRejectedByBroker
    | CancelRequested
    | OrderCancelConfirmed
    | OrderStalled
    | PositionBead
    | TransitionRefused
    | TradingStateChanged
    | KillFlagRaised
    | KillFlagCleared
    | KillConfirmation
    | AlertRaised
    | DriftDetected
    | DriftResolved
    | PositionCorrected
    | ReconciliationRun
    | EngineStarted
    | SignOffRecorded
    | AutoApprovePolicySet
    | RollbackStarted
    | RollbackCompleted
    | PromotionRequested
    | PromotionApproved
    | PromotionRefused
    | LiveOverride
    | StrategyRecorded
    | OrderModified
    | PreviewRecorded,
    Field(discriminator="kind"),
]

AUDITED_EVENT: TypeAdapter[AuditedEvent] = TypeAdapter(AuditedEvent, config={"defer_build": True})


def build_validators() -> None:
    """Build every contract's deferred validator now, so no order waits on a schema build."""
    AUDITED_EVENT.rebuild()
    pending: list[type[Frozen]] = [Frozen]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        model.model_rebuild(raise_errors=False)


def parse_event(payload: str | bytes) -> AuditedEvent:
    """Rebuild an event from its bead payload (JSON)."""
    return AUDITED_EVENT.validate_json(payload)
