"""The promotion ceremony outside the console: evidence from shadow sessions, vetoes, a T2 token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from contracts.broker import (
    AccountSnapshot,
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
)
from contracts.config import Config
from contracts.enums import TradingState
from contracts.events import KillFlagCleared, PromotionRefused
from contracts.intent import Instrument, canonical_hash
from engine.audit import AuditStore
from engine.book import Book
from engine.bus import EventBus
from engine.clock import Clock, SystemClock
from engine.ports import BrokerUnavailable, EventSink
from engine.promotion import (
    APPROVAL_TIER,
    EvidenceBundle,
    GoLive,
    PromotionContext,
    SessionRecord,
    Stage,
    missing_evidence,
    stage_of,
)
from engine.recorder import EventRecorder
from engine.replay import replay_into
from engine.results import CommandResult
from engine.session import BrokerSession
from engine.tokens import TokenBook

TOKEN_LIFETIME_S = 300.0


class EvidenceError(ValueError):
    """The shadow-session file cannot be read as an evidence bundle (one line, names the entry)."""


def read_shadow_sessions(path: Path, strategy: str) -> EvidenceBundle:
    """The evidence bundle of `strategy` from a shadow-session file.

    The file is JSON: a list of sessions (or {"sessions": [...]}), each with day, regime, pnl,
    max_drawdown_pct, sharpe, would_have_killed, decisions, overrides and optionally strategy
    (sessions of other strategies are left out).
    """
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{path}: not JSON: {exc}") from None
    entries = data.get("sessions") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise EvidenceError(f"{path}: expected a list of sessions")
    sessions = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("strategy", strategy) != strategy:
            continue
        try:
            sessions.append(_session(entry))
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise EvidenceError(f"{path}: session {n}: {type(exc).__name__}: {exc}") from None
    return EvidenceBundle(strategy, tuple(sessions))


def _session(entry: dict[str, Any]) -> SessionRecord:
    def maybe(key: str) -> Any:
        return entry.get(key)

    drawdown, sharpe = maybe("max_drawdown_pct"), maybe("sharpe")
    return SessionRecord(
        day=date.fromisoformat(str(entry["day"])),
        regime=str(entry["regime"]),
        pnl=Decimal(str(entry["pnl"])),
        max_drawdown_pct=None if drawdown is None else Decimal(str(drawdown)),
        sharpe=None if sharpe is None else float(sharpe),
        would_have_killed=int(entry.get("would_have_killed", 0)),
        decisions=int(entry.get("decisions", 0)),
        overrides=int(entry.get("overrides", 0)),
    )


class OfflineBroker:
    """The ceremony never trades: every broker request is refused."""

    name = "offline"
    connected = False

    def set_event_sink(self, sink: EventSink) -> None:
        return None

    async def connect(self) -> None:
        raise BrokerUnavailable("offline: promotion does not connect")

    async def disconnect(self) -> None:
        return None

    async def submit(self, order: OrderRequest) -> None:
        raise BrokerUnavailable("offline")

    async def cancel(self, order_ref: str) -> None:
        raise BrokerUnavailable("offline")

    async def cancel_all(self) -> None:
        raise BrokerUnavailable("offline")

    async def open_orders(self) -> list[BrokerOrder]:
        raise BrokerUnavailable("offline")

    async def executions(self) -> list[BrokerExecution]:
        raise BrokerUnavailable("offline")

    async def positions(self) -> list[BrokerPosition]:
        raise BrokerUnavailable("offline")

    async def account(self) -> AccountSnapshot:
        raise BrokerUnavailable("offline")

    async def subscribe_quotes(self, instrument: Instrument) -> None:
        raise BrokerUnavailable("offline")


@dataclass(frozen=True)
class RunningEngine:
    """A running engine's own book, recorder and go-live desk (the console's ceremony)."""

    book: Book
    recorder: EventRecorder
    golive: GoLive


class PromotionCeremony:
    """Over one audit store: the vetoes, the request, and a single-use T2 token.

    Offline (`deskgate promote`), the store is replayed into a book of its own and the caller
    holds the data dir's instance lock, so no engine writes the store meanwhile. In the
    console, `running` is the engine's own book and recorder, so the engine sees the outcome.
    """

    def __init__(
        self,
        config: Config,
        store: AuditStore,
        clock: Clock | None = None,
        *,
        running: RunningEngine | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        if running is None:
            self.book = Book()
            self.unreadable = replay_into(store, self.book)
            self.recorder = EventRecorder(store, self.book, EventBus(), self.clock)
            session = BrokerSession(OfflineBroker(), self.recorder, is_paper=True)
            self.golive = GoLive(self.recorder, self.book, session, config)
        else:
            self.book, self.recorder, self.golive = running.book, running.recorder, running.golive
            self.unreadable = []
        self.config = config
        self._tokens = TokenBook(TOKEN_LIFETIME_S)
        self._clear_lapsed_flags()

    def _clear_lapsed_flags(self) -> None:
        now = self.clock.now()
        for flag, raised in list(self.book.kill_flags.items()):
            if raised.expires_at is not None and now >= raised.expires_at:
                self.recorder.emit(
                    KillFlagCleared(**self.recorder.now_pair(), flag=flag, reason="expired")
                )

    def vetoes(self, bundle: EvidenceBundle) -> tuple[str, ...]:
        """Why a promotion of this bundle would be refused now (before anyone approves)."""
        golive = self.config.golive
        ctx = PromotionContext(
            stage=stage_of(self.book, bundle.strategy),
            kill_flags=tuple(self.book.kill_flags),
            halted=self.book.trading_state is TradingState.HALTED,
            unresolved_drifts=len(self.book.drifts),
            requested_by="",
            evidence_missing=missing_evidence(
                bundle, golive.min_promotion_sessions, golive.min_promotion_regimes
            ),
        )
        out = []
        if ctx.stage is not Stage.SHADOW:
            out.append(f"{bundle.strategy} is already {ctx.stage}")
        if ctx.kill_flags:
            out.append(f"kill flag active: {', '.join(ctx.kill_flags)}")
        if ctx.halted:
            out.append("trading is HALTED")
        if ctx.unresolved_drifts:
            out.append(f"{ctx.unresolved_drifts} unresolved reconciliation drift(s)")
        if ctx.evidence_missing:
            out.append("incomplete evidence: " + "; ".join(ctx.evidence_missing))
        return tuple(out)

    def refuse(self, strategy: str, actor: str, reasons: tuple[str, ...]) -> None:
        self.recorder.emit(
            PromotionRefused(
                **self.recorder.now_pair(),
                strategy=strategy,
                to_stage=Stage.LIVE.value,
                actor=actor,
                reasons=reasons,
            ),
            durable=True,
        )

    def request(self, bundle: EvidenceBundle, requester: str) -> tuple[CommandResult, str | None]:
        """Record the request with its evidence; on success, the token that approves it."""
        vetoes = self.vetoes(bundle)
        if vetoes:
            self.refuse(bundle.strategy, requester, vetoes)
            return CommandResult(False, "promotion refused: " + "; ".join(vetoes), "REFUSED"), None
        result = self.golive.request_promotion(bundle, requester)
        if not result.ok:
            return result, None
        token, _, _ = self._tokens.issue(
            f"promotion:{bundle.strategy}",
            canonical_hash(bundle.summary()),
            requester.strip(),
            self.clock.monotonic(),
        )
        return result, token

    def approve(
        self, bundle: EvidenceBundle, token: str, requester: str, approver: str
    ) -> CommandResult:
        """Redeem the token (once, for this evidence and requester), then the T2 approval."""
        redeemed = self._tokens.redeem(
            token,
            f"promotion:{bundle.strategy}",
            canonical_hash(bundle.summary()),
            requester.strip(),
            self.clock.monotonic(),
        )
        if not redeemed.ok:
            reason = f"token refused: {redeemed.rejection}"
            self.refuse(bundle.strategy, approver, (reason,))
            return CommandResult(False, reason, str(redeemed.rejection))
        return self.golive.approve_promotion(bundle.strategy, approver, APPROVAL_TIER)
