"""What the engine's commands return to their caller (console, CLI, socket)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the event models load with the engine, not with the console's first frame
    from contracts.events import CheckOutcome


@dataclass(frozen=True)
class ProposalResult:
    accepted: bool
    """True when the intent is durable and waiting for approval."""
    intent_id: str
    message: str
    denials: tuple[CheckOutcome, ...] = ()


@dataclass(frozen=True)
class CommandResult:
    """Outcome of approve / reject / kill / rearm / flatten: ok, or a one-line reason."""

    ok: bool
    message: str
    code: str = ""
