"""Pre-trade risk on the engine: the risk context, recorded checks, denials and tier caps."""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from decimal import Decimal

from contracts.config import Config
from contracts.enums import AlertLevel, DenialReason, Mode, TokenRejection, Trigger
from contracts.events import CheckOutcome, KillFlagRaised, RiskChecked
from contracts.intent import Instrument, Intent
from engine.approvals import ApprovalDesk
from engine.book import Book, IntentRecord
from engine.clock import Clock
from engine.promotion import Stage, stage_of
from engine.recorder import EventRecorder
from engine.risk import RiskContext, pre_trade_checks, reference_price
from engine.scale import TierStatus, position_cap, tier_for
from engine.session import BrokerSession
from engine.trading_hours import ResetWindow, SessionState, VenueSession, session_for, venue_of

STATE_CONFLICT_FLAG = "STATE_CONFLICT"


class PreTradeRisk:
    """Gathers everything the checks look at, runs them, records them, and denies what fails."""

    def __init__(
        self,
        recorder: EventRecorder,
        book: Book,
        session: BrokerSession,
        approvals: ApprovalDesk,
        clock: Clock,
        config: Config,
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._approvals = approvals
        self._clock = clock
        self._config = config
        self._recent_orders: deque[tuple[str, float]] = deque()
        """(order digest, monotonic time) of orders that left, for the duplicate check."""

    def note_sent(self, intent: Intent) -> None:
        """An order left: identical ones inside the duplicate window are refused."""
        self._recent_orders.append((intent.order.digest(), self._clock.monotonic()))

    def context(self, intent: Intent) -> RiskContext:
        symbol = intent.order.instrument.symbol
        pos = self._book.positions.get(symbol)
        position = pos.quantity if pos else Decimal(0)
        side = intent.order.side
        working = self._book.working_qty.get((symbol, side), Decimal(0))
        working -= self._book.open_entry_qty.get(intent.intent_id, Decimal(0))
        mono = self._clock.monotonic()
        digest = intent.order.digest()
        window = self._config.risk.duplicate_window_s
        while self._recent_orders and mono - self._recent_orders[0][1] > window:
            self._recent_orders.popleft()
        recent = next((mono - t for d, t in reversed(self._recent_orders) if d == digest), None)
        return RiskContext(
            now=self._clock.now(),
            quote=self._session.quote(symbol),
            position=position,
            working_same_side=working,
            trades_today=self._book.trades_today,
            realized_pnl_today=self._book.realized_today,
            consecutive_losses=self._book.consecutive_losses,
            trading_state=self._book.trading_state,
            kill_flags=tuple(self._book.kill_flags),
            connected=self._session.connected,
            recent_identical_s=recent,
            strategy_live=(
                stage_of(self._book, intent.strategy) is Stage.LIVE
                if self._config.mode is Mode.LIVE
                else None
            ),
            max_position_override=self.tier_cap(intent),
        )

    def evaluate(self, intent: Intent) -> tuple[CheckOutcome, ...]:
        """Run every check now without recording (the console's greying-out, the snapshot)."""
        checks = pre_trade_checks(
            intent, self.context(intent), self._config.risk, self._config.stale
        )
        return (*checks, self._order_entry_check(), self._session_check(intent))

    def _order_entry_check(self) -> CheckOutcome:
        refused = self._session.order_entry_refused
        if refused is None:
            return CheckOutcome(name="order_entry", passed=True, detail="broker accepts orders")
        return CheckOutcome(
            name="order_entry",
            passed=False,
            detail=f"broker refuses new orders: {refused}",
            reason=DenialReason.ORDER_ENTRY_REFUSED,
        )

    @property
    def calendar_applies(self) -> bool:
        """Whether venue sessions and IB's reset gate entries (`[hours] calendar`)."""
        mode = self._config.hours.calendar
        return mode == "on" or (mode == "auto" and self._config.broker.kind == "ibkr")

    def market_session(self, instrument: Instrument) -> VenueSession | None:
        """The instrument's venue session now (None: calendar off or no calendar for it)."""
        if not self.calendar_applies:
            return None
        venue = venue_of(instrument.sec_type, instrument.exchange)
        if venue is None:
            return None
        return session_for(venue, self._clock.now(), self._reset_window())

    def _reset_window(self) -> ResetWindow:
        hours = self._config.hours
        return ResetWindow(hours.reset_start, hours.reset_end, hours.reset_weekend_end)

    def _session_check(self, intent: Intent) -> CheckOutcome:
        """No new entry outside the venue's session or inside IB's reset; exits always pass."""
        session = self.market_session(intent.order.instrument)
        if session is None or session.open:
            detail = session.reason if session else "no calendar applies"
            return CheckOutcome(name="market_session", passed=True, detail=detail)
        if intent.reduces_risk:
            return CheckOutcome(
                name="market_session", passed=True, detail=f"exit allowed: {session.reason}"
            )
        in_reset = session.state is SessionState.MAINTENANCE and self._reset_window().contains(
            self._clock.now()
        )
        return CheckOutcome(
            name="market_session",
            passed=False,
            detail=f"{session.venue}: {session.reason}",
            reason=DenialReason.RESET_WINDOW if in_reset else DenialReason.MARKET_CLOSED,
        )

    def run_checks(self, intent: Intent, stage: str) -> RiskChecked:
        """Run every check and record the outcome (stage: proposal or submit)."""
        event = RiskChecked(
            **self._recorder.now_pair(),
            intent_id=intent.intent_id,
            stage=stage,
            checks=self.evaluate(intent),
        )
        self._recorder.emit(event)
        return event

    def deny(self, rec: IntentRecord, checks: RiskChecked) -> None:
        """Close a denied intent; a stale-state denial raises a temporary kill flag."""
        iid = rec.intent.intent_id
        self._approvals.void(iid, TokenRejection.VOID_REJECTED)
        self._recorder.transition(rec, Trigger.DENY)
        reasons = ", ".join(str(d.reason) for d in checks.denials)
        self._recorder.alert(AlertLevel.WARNING, "RISK_DENIED", f"{iid} denied: {reasons}", iid)
        if any(d.reason is DenialReason.STATE_CONFLICT for d in checks.denials):
            minutes = self._config.stale.temporary_kill_min
            self._recorder.emit(
                KillFlagRaised(
                    **self._recorder.now_pair(),
                    flag=STATE_CONFLICT_FLAG,
                    reason=f"stale state on {iid}",
                    expires_at=self._clock.now() + timedelta(minutes=minutes),
                )
            )

    def tier_cap(self, intent: Intent) -> Decimal | None:
        """The scale-up tier's position cap in units for this intent (None: no tier in force)."""
        tier = self.scale_tier()
        if tier is None:
            return None
        o = intent.order
        price = reference_price(intent, self._session.quote(o.instrument.symbol))
        return position_cap(tier, price, o.instrument.multiplier)

    def scale_tier(self) -> TierStatus | None:
        """The capital tier in force today (from `scale.go_live_date`); None when not live."""
        try:
            return tier_for(self._config.scale, self._clock.now().date())
        except ValueError:
            return None
