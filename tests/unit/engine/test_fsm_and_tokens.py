"""The lifecycle table and the token book on their own."""

from __future__ import annotations

import threading

import pytest

from contracts.enums import LifecycleState as S
from contracts.enums import TokenRejection
from contracts.enums import Trigger as T
from engine.fsm import TRANSITIONS, InvalidTransition, next_state
from engine.tokens import TokenBook, token_id_of


def test_table_edges_and_refusals() -> None:
    assert next_state(S.PROPOSED, T.APPROVE) is S.APPROVED
    assert next_state(S.STALLED, T.FILL) is S.FILLED  # late fill after STALLED
    assert next_state(S.CANCELLED, T.FILL) is S.FILLED  # fill after cancel request
    with pytest.raises(InvalidTransition):
        next_state(S.PROPOSED, T.FILL)
    with pytest.raises(InvalidTransition):
        next_state(S.REJECTED, T.APPROVE)


def test_no_edge_leaves_a_final_state_except_late_fills_and_kept_exits() -> None:
    for (state, trigger), _ in TRANSITIONS.items():
        if state in (S.CLOSED, S.REJECTED, S.EXPIRED):
            raise AssertionError(f"edge out of final state {state} on {trigger}")
        if state is S.CANCELLED:  # a fill that beat the cancel; a part fill's bracket exits
            assert trigger in (T.FILL, T.PARTIAL_FILL, T.EXITS_WORKING)


def test_every_state_is_reachable_from_proposed() -> None:
    seen = {S.PROPOSED}
    frontier = [S.PROPOSED]
    while frontier:
        state = frontier.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is state and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert seen == set(S)


def test_token_is_256_bits_and_only_its_hash_is_kept() -> None:
    book = TokenBook(300)
    token, token_id, _ = book.issue("i1", "ev", "pa", 0.0)
    assert len(token) == 43  # base64 of 32 bytes
    assert token_id == token_id_of(token) and token not in repr(book._by_id)


def test_token_binds_evidence_and_parameters() -> None:
    book = TokenBook(300)
    token, _, _ = book.issue("i1", "ev", "pa", 0.0)
    assert book.redeem(token, "i1", "EV2", "pa", 1.0).rejection is TokenRejection.EVIDENCE_CHANGED
    assert book.redeem(token, "i1", "ev", "PA2", 1.0).rejection is TokenRejection.PARAMS_CHANGED
    assert book.redeem(token, "i1", "ev", "pa", 1.0).ok


def test_threads_racing_for_one_token_one_wins_1000_times() -> None:
    book = TokenBook(300)
    for n in range(1000):
        token, _, _ = book.issue(f"i{n}", "ev", "pa", 0.0)
        wins: list[bool] = []
        barrier = threading.Barrier(4)

        def race(
            token: str = token,
            n: int = n,
            wins: list[bool] = wins,
            barrier: threading.Barrier = barrier,
        ) -> None:
            barrier.wait()
            wins.append(book.redeem(token, f"i{n}", "ev", "pa", 1.0).ok)

        threads = [threading.Thread(target=race) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(wins) == [False, False, False, True]
