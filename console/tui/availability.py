"""Which of the console's keys work now: lit, greyed out (None) or hidden (False) in the footer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from contracts.enums import TradingState

if TYPE_CHECKING:
    from engine.view import EngineSnapshot

NEED_STARTED = frozenset({"flatten", "reconcile", "rollback"})


@dataclass(frozen=True)
class Availability:
    """Everything the keys' availability depends on; the footer is refreshed when it changes."""

    approvable: bool
    selected: bool
    started: bool
    trading_state: TradingState | None
    drifts: bool
    phase: str
    connected: bool | None

    @classmethod
    def of(
        cls,
        snapshot: EngineSnapshot | None,
        *,
        blocker: str | None,
        selected: bool,
        started: bool,
        phase: str,
    ) -> Availability:
        return cls(
            approvable=blocker is None,
            selected=selected,
            started=started,
            trading_state=snapshot.trading_state if snapshot is not None else None,
            drifts=bool(snapshot.drifts) if snapshot is not None else False,
            phase=phase,
            connected=snapshot.connection.connected if snapshot is not None else None,
        )

    def allows(self, action: str) -> bool | None:
        """Whether `action` works on the main screen now."""
        if action == "approve":
            return True if self.approvable else None
        if action == "reject":
            return True if self.selected else None
        if action == "rearm":  # shown only when there is something to re-arm
            return (
                self.trading_state is not None
                and self.trading_state is not TradingState.ACTIVE
                and not self.drifts  # drift is lifted by resolving it (D), not re-arm
            )
        if action == "reconnect":  # shown only while down: a failed start or a dropped session
            if self.started:
                return self.connected is False
            return self.phase.startswith("start failed")
        if action in NEED_STARTED:
            return True if self.started else None
        return True
