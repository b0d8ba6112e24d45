"""Event ids come from a fast generator whose state their readers could rebuild: nothing that
grants anything (approval tokens, their ids) may be drawn from it."""

from __future__ import annotations

import random

import pytest

from contracts import events
from engine.tokens import TokenBook


def test_tokens_do_not_follow_the_event_id_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker who reads enough event ids (alerts, the audit export) can rebuild the
    generator and predict its next draws; tokens must not move with it."""
    issued = []
    for _ in range(2):
        monkeypatch.setattr(events, "_ids", random.Random(7))  # the same, known state twice
        ids = [events.new_event_id() for _ in range(3)]
        token, token_id, _ = TokenBook(lifetime_s=60).issue("it-1", "e", "p", 0.0)
        issued.append((ids, token, token_id))
    (ids_a, token_a, id_a), (ids_b, token_b, id_b) = issued
    assert ids_a == ids_b  # the generator really was in the same state
    assert token_a != token_b and id_a != id_b
