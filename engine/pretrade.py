"""Pre-trade risk on the engine: the risk context, recorded checks, denials and tier caps."""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from decimal import Decimal

from contracts.config import Config
from contracts.enums import (
    AlertLevel,
    DenialReason,
    LifecycleState,
    Mode,
    TokenRejection,
    Trigger,
)
from contracts.events import CheckOutcome, KillFlagRaised, RiskChecked
from contracts.intent import Instrument, Intent
from engine.approvals import ApprovalDesk
from engine.book import Book, IntentRecord
from engine.clock import Clock
from engine.instruments import InstrumentMaster, exchange_date, local_symbol, roll_date
from engine.limits import RiskLimits
from engine.promotion import Stage, stage_of
from engine.recorder import EventRecorder
from engine.results import CommandResult
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
        *,
        instruments: InstrumentMaster,
        limits: RiskLimits,
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._approvals = approvals
        self._clock = clock
        self._config = config
        self._instruments = instruments
        self.limits = limits
        """The risk limits in force (config's, plus changes on the running engine)."""
        self._recent_orders: deque[tuple[str, float]] = deque()
        """(order digest, monotonic time) of orders that left, for the duplicate check."""

    def note_sent(self, intent: Intent) -> None:
        """An order left: identical ones inside the duplicate window are refused."""
        self._recent_orders.append((intent.order.digest(), self._clock.monotonic()))

    def context(self, intent: Intent) -> RiskContext:
        symbol = intent.order.instrument.symbol
        position = self._book.quantity_held(symbol)
        side = intent.order.side
        working = self._book.working_qty.get((symbol, side), Decimal(0))
        working -= self._book.open_entry_qty.get(intent.intent_id, Decimal(0))
        mono = self._clock.monotonic()
        digest = intent.order.digest()
        window = self.limits.risk.duplicate_window_s
        while self._recent_orders and mono - self._recent_orders[0][1] > window:
            self._recent_orders.popleft()
        recent = next((mono - t for d, t in reversed(self._recent_orders) if d == digest), None)
        arrived = self._session.quote_arrived(symbol)
        return RiskContext(
            now=self._clock.now(),
            quote=self._session.quote(symbol),
            instrument=self._instruments.check(intent.order.instrument),
            quote_age_s=None if arrived is None else mono - arrived,
            working_orders_same_side=self._book.working_orders(symbol, side, intent.intent_id),
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
            intent, self.context(intent), self.limits.risk, self._config.stale
        )
        roll = self._roll_check(intent)
        extra = (roll,) if roll is not None else ()
        return (*checks, self._order_entry_check(), self._session_check(intent), *extra)

    def _roll_check(self, intent: Intent) -> CheckOutcome | None:
        """Futures only: no order in an expired contract, no entry inside its roll window."""
        facts = self._instruments.facts(intent.order.instrument)
        if facts is None or facts.sec_type != "FUT" or facts.expiry is None:
            return None
        today = exchange_date(self._clock.now())
        rolls = roll_date(facts.expiry, self._instruments.roll_days)
        name = local_symbol(facts)
        dates = f"{name} expires {facts.expiry}, rolls {rolls}, today {today}"
        if today > facts.expiry:
            return CheckOutcome(
                name="contract_roll",
                passed=False,
                detail=f"{name} expired {facts.expiry} (today {today})",
                reason=DenialReason.CONTRACT_EXPIRED,
            )
        if today < rolls:
            return CheckOutcome(name="contract_roll", passed=True, detail=dates)
        if intent.reduces_risk:
            return CheckOutcome(name="contract_roll", passed=True, detail=f"exit allowed: {dates}")
        return CheckOutcome(
            name="contract_roll",
            passed=False,
            detail=f"{dates}: entries go to the next expiry",
            reason=DenialReason.CONTRACT_ROLLING,
        )

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

    def set_limit(self, key: str, value: str, reason: str, actor: str) -> CommandResult:
        """Change one risk limit now (see engine.limits); pending intents are re-checked."""
        result = self.limits.change(key, value, reason, actor)
        if not result.ok:
            return result
        denied = self.recheck_pending()
        return CommandResult(True, f"{result.message}; {denied} pending denied")

    def recheck_pending(self) -> int:
        """Re-run the checks on every intent waiting for approval; deny the ones that fail."""
        denied = 0
        for rec in list(self._book.live.values()):
            iid = rec.intent.intent_id
            if rec.state is LifecycleState.PROPOSED and self._approvals.pending(iid):
                checks = self.run_checks(rec.intent, "limits")
                if checks.denials:
                    self.deny(rec, checks)
                    denied += 1
        return denied

    def tier_cap(self, intent: Intent) -> Decimal | None:
        """The scale-up tier's position cap in units for this intent (None: no tier in force)."""
        tier = self.scale_tier()
        if tier is None:
            return None
        o = intent.order
        facts = self._instruments.facts(o.instrument)
        if facts is None:
            return Decimal(0)  # no broker facts: nothing can be valued, so nothing is allowed
        price = reference_price(intent, self._session.quote(o.instrument.symbol))
        return position_cap(tier, price, facts.multiplier)

    def scale_tier(self) -> TierStatus | None:
        """The capital tier in force today (from `scale.go_live_date`); None when not live."""
        try:
            return tier_for(self._config.scale, self._clock.now().date())
        except ValueError:
            return None
