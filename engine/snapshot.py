"""Building the read-only EngineSnapshot the console renders."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from decimal import Decimal

from contracts.enums import (
    LifecycleState,
    OrderLeg,
)
from engine.core import EngineCore
from engine.risk import pre_trade_checks
from engine.view import (
    BeadView,
    ConnectionView,
    EngineSnapshot,
    KillFlagView,
    LatencyView,
    OrderView,
    PendingApproval,
    PositionView,
)

log = logging.getLogger("deskgate.engine")


class SnapshotMixin(EngineCore):
    def snapshot(self) -> EngineSnapshot:
        mono = self.clock.monotonic()
        now = self.clock.now()
        pending: list[PendingApproval] = []
        orders: list[OrderView] = []
        for rec in self.book.records.values():
            o = rec.intent.order
            if rec.state is LifecycleState.PROPOSED:
                tok = self._pending_tokens.get(rec.intent.intent_id)
                if tok is None:
                    continue
                issued = self.book.issued_tokens.get(rec.token_id or "")
                checks = pre_trade_checks(
                    rec.intent, self._risk_context(rec.intent), self.config.risk, self.config.stale
                )
                pending.append(
                    PendingApproval(
                        intent=rec.intent,
                        token=tok[0],
                        token_id=rec.token_id or "",
                        issued_at=issued.ts_event if issued else rec.received_at,
                        expires_at=issued.expires_at if issued else now,
                        expires_monotonic=tok[1],
                        checks=checks,
                        evidence_hash=rec.intent.evidence_hash(),
                    )
                )
                continue
            orders.append(
                OrderView(
                    intent_id=rec.intent.intent_id,
                    symbol=o.instrument.symbol,
                    side=o.side,
                    order_type=o.order_type,
                    requested=rec.requested,
                    filled=rec.entry_filled,
                    state=rec.state,
                    state_since=rec.state_since,
                    limit_price=o.limit_price,
                    stop_price=o.stop_price,
                    avg_fill_price=rec.avg_price(OrderLeg.ENTRY) or rec.avg_price(OrderLeg.FLATTEN),
                    perm_id=rec.perm_id,
                    unknown=rec.state.is_working and not self._connected,
                )
            )
        positions = []
        for symbol, pos in sorted(self.book.positions.items()):
            if pos.quantity == 0 and pos.realized == 0:
                continue
            q = self._quotes.get(symbol)
            last = q.last or q.mid if q else None
            unreal = (
                (last - pos.avg_price) * pos.quantity * pos.multiplier
                if last is not None and pos.quantity
                else Decimal(0)
            )
            ratio = self.book.entry_fill_ratio.get(symbol)
            positions.append(
                PositionView(symbol, pos.quantity, pos.avg_price, last, unreal, pos.realized, ratio)
            )
        tail = self._audit_tail()
        last_quote = max((q.ts for q in self._quotes.values()), default=None)
        return EngineSnapshot(
            mode=self.config.mode,
            trading_state=self.book.trading_state,
            kill_confirmed=self.book.kill_confirmed,
            kill_flags=tuple(
                KillFlagView(f.flag, f.reason, f.expires_at) for f in self.book.kill_flags.values()
            ),
            connection=ConnectionView(
                broker=self.broker.name,
                connected=self._connected,
                account_id=self._account_id,
                is_paper=self._is_paper,
                farms=dict(self._farms),
                last_quote_at=last_quote,
            ),
            account=self._account,
            pending=tuple(pending),
            orders=tuple(sorted(orders, key=lambda v: v.state_since, reverse=True)),
            positions=tuple(positions),
            alerts=tuple(self.book.alerts)[-50:],
            latency=LatencyView(
                *(
                    tuple(self._latency[k])
                    for k in ("intent_to_submit", "submit_to_ack", "ack_to_fill")
                )
            ),
            audit_tail=tuple(tail),
            trades_today=self.book.trades_today,
            realized_pnl_today=self.book.realized_today,
            consecutive_losses=self.book.consecutive_losses,
            taken_at=now,
            monotonic_at=mono,
            drifts=tuple(self.book.drifts.values()),
            gates=self._gates,
            scale_tier=self.scale_tier(),
        )

    def _audit_tail(self) -> tuple[BeadView, ...]:
        """The newest beads for the console; re-read only when a bead was appended."""
        head = self.store.head_seq
        if self._tail_cache[0] != head:
            rows = self.store.tail(30)
            views = tuple(
                BeadView(
                    r.seq, datetime.fromisoformat(r.ts), r.kind, r.intent_id, _summary(r.payload)
                )
                for r in rows
            )
            self._tail_cache = (head, views)
        return self._tail_cache[1]


def _summary(payload: str) -> str:
    """A short human line for a bead in the audit tail."""
    data = json.loads(payload)
    for key in ("message", "reason", "to_state", "current", "detail"):
        if data.get(key):
            return f"{key}={data[key]}"
    return ""
