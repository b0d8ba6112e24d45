"""The order/position lifecycle machine: one transition table, data not code."""

from __future__ import annotations

from contracts.enums import LifecycleState as S
from contracts.enums import Trigger as T


class InvalidTransition(Exception):
    def __init__(self, state: S, trigger: T) -> None:
        super().__init__(f"no transition from {state} on {trigger}")
        self.state = state
        self.trigger = trigger


TRANSITIONS: dict[tuple[S, T], S] = {
    # --- before anything leaves -------------------------------------------------------
    (S.PROPOSED, T.APPROVE): S.APPROVED,
    (S.PROPOSED, T.DENY): S.REJECTED,  # risk, stale state or kill flag refused it
    (S.PROPOSED, T.TRADER_REJECT): S.REJECTED,
    (S.PROPOSED, T.TOKEN_EXPIRED): S.EXPIRED,  # nobody approved within the token's life
    (S.APPROVED, T.SUBMIT): S.SUBMITTED,  # write-ahead record synced, order handed to broker
    (S.APPROVED, T.DENY): S.REJECTED,  # risk re-check at submit refused it
    (S.APPROVED, T.SUBMIT_FAILED): S.REJECTED,  # broker unreachable / audit unavailable
    # --- working at the broker ---------------------------------------------------------
    (S.SUBMITTED, T.ACK): S.SUBMITTED,
    (S.SUBMITTED, T.PARTIAL_FILL): S.SUBMITTED,  # still working; filled/requested tracked
    (S.SUBMITTED, T.FILL): S.FILLED,
    (S.SUBMITTED, T.BROKER_REJECT): S.REJECTED,
    (S.SUBMITTED, T.CANCEL_CONFIRMED): S.CANCELLED,  # a partial fill before it stays booked
    (S.SUBMITTED, T.ACK_TIMEOUT): S.STALLED,  # no ack within the stall timeout
    (S.SUBMITTED, T.SUBMIT_FAILED): S.REJECTED,  # the send itself raised
    # Real world: a fill can race ahead of its ack; the fill implies the ack.
    # --- stalled: we do not know whether the broker has it ------------------------------
    (S.STALLED, T.ACK): S.SUBMITTED,  # late ack
    (S.STALLED, T.PARTIAL_FILL): S.SUBMITTED,  # late partial fill implies the ack
    (S.STALLED, T.FILL): S.FILLED,  # late fill after STALLED
    (S.STALLED, T.BROKER_REJECT): S.REJECTED,
    (S.STALLED, T.CANCEL_CONFIRMED): S.CANCELLED,
    (S.STALLED, T.SUBMIT_FAILED): S.REJECTED,
    # --- a cancel sent, not yet answered: the order may still fill --------------------------
    (S.SUBMITTED, T.CANCEL_SENT): S.PENDING_CANCEL,
    (S.STALLED, T.CANCEL_SENT): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.ACK): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.PARTIAL_FILL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.FILL): S.FILLED,  # the fill won the race
    (S.PENDING_CANCEL, T.CANCEL_CONFIRMED): S.CANCELLED,
    (S.PENDING_CANCEL, T.CANCEL_REJECTED): S.SUBMITTED,  # 10147/10148 or not sent: still ours
    (S.PENDING_CANCEL, T.BROKER_REJECT): S.REJECTED,
    # --- filled, with or without exits ---------------------------------------------------
    (S.FILLED, T.EXITS_WORKING): S.MANAGED,  # bracket stop/target working at the broker
    (S.FILLED, T.EXIT_FILLED): S.CLOSED,  # flattened
    (S.FILLED, T.FILL): S.FILLED,  # duplicate fill report (replayed execDetails)
    (S.MANAGED, T.EXIT_FILLED): S.CLOSED,  # stop or target filled; OCA cancels the other
    (S.MANAGED, T.PARTIAL_FILL): S.MANAGED,  # an exit filled in part
    (S.MANAGED, T.CANCEL_CONFIRMED): S.FILLED,  # exits cancelled (kill): position unprotected
    # Real world: fill after cancel request — the cancel lost the race, the fill stands.
    (S.CANCELLED, T.FILL): S.FILLED,
    (S.CANCELLED, T.PARTIAL_FILL): S.CANCELLED,
    # Part filled, the rest cancelled: the bracket's exits work on for what filled.
    (S.CANCELLED, T.EXITS_WORKING): S.MANAGED,
}


CANCELLABLE = frozenset({S.SUBMITTED, S.STALLED, S.PENDING_CANCEL})
"""Entry states in which the order may be working at the broker, unfilled."""


def next_state(state: S, trigger: T) -> S:
    """The state after `trigger`; raises InvalidTransition for anything not in the table."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise InvalidTransition(state, trigger) from None
