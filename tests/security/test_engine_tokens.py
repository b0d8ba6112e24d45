"""Every token state change has an audit record; ended pending trades keep a history."""

from __future__ import annotations

import json
from pathlib import Path

from contracts.enums import LifecycleState, TokenRejection
from engine.engine import Engine
from tests.support import make_intent, started_engine


def token_beads(engine: Engine, intent_id: str) -> list[tuple[str, str]]:
    """(kind, reason) of the intent's token beads, oldest first."""
    engine.store.flush()
    out = []
    for row in engine.store.rows():
        if row.intent_id == intent_id and row.kind.startswith("TOKEN_"):
            out.append((row.kind, json.loads(row.payload).get("reason", "")))
    return out


async def test_a_kill_voids_pending_tokens_with_a_record_and_a_history_entry(
    tmp_path: Path,
) -> None:
    engine, _, clock = await started_engine(tmp_path)
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    token = engine.pending_token(intent.intent_id) or ""
    assert (await engine.kill("test")).ok
    assert token_beads(engine, intent.intent_id) == [
        ("TOKEN_ISSUED", ""),
        ("TOKEN_EXPIRED", TokenRejection.VOID_KILL.value),
    ]
    assert engine.book.records[intent.intent_id].state is LifecycleState.EXPIRED
    history = engine.pending_history()
    assert [(h.intent_id, h.outcome, h.reason) for h in history] == [
        (intent.intent_id, "VOIDED", "VOID_KILL")
    ]
    refused = await engine.approve(intent.intent_id, token)
    assert not refused.ok and refused.code == TokenRejection.VOID_KILL
    await engine.stop()


async def test_reject_expiry_and_refusal_are_each_recorded(tmp_path: Path) -> None:
    engine, _, clock = await started_engine(tmp_path)
    rejected = make_intent(clock, limit="100.00")
    expired = make_intent(clock, limit="99.99")
    assert (await engine.propose(rejected)).accepted
    assert (await engine.propose(expired)).accepted
    assert (await engine.reject(rejected.intent_id, "Kyle said no")).ok
    assert token_beads(engine, rejected.intent_id) == [
        ("TOKEN_ISSUED", ""),
        ("TOKEN_EXPIRED", TokenRejection.VOID_REJECTED.value),
    ]
    wrong = await engine.approve(expired.intent_id, "not-a-token")
    assert not wrong.ok
    clock.advance(engine.config.tokens.expiry_s + 1)
    engine.tick()
    assert token_beads(engine, expired.intent_id) == [
        ("TOKEN_ISSUED", ""),
        ("TOKEN_REJECTED", TokenRejection.UNKNOWN_TOKEN.value),
        ("TOKEN_EXPIRED", TokenRejection.EXPIRED.value),
    ]
    outcomes = [(h.intent_id, h.outcome, h.reason) for h in engine.pending_history()]
    assert outcomes == [
        (rejected.intent_id, "REJECTED", "Kyle said no"),
        (expired.intent_id, "EXPIRED", "EXPIRED"),
    ]
    await engine.stop()


async def test_the_history_survives_a_restart(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert (await engine.kill("test")).ok
    await engine.stop()
    engine.store.close()
    again = Engine(engine.config, broker, data_dir=tmp_path, clock=clock)
    await again.start()
    assert [h.outcome for h in again.pending_history()] == ["VOIDED"]
    await again.stop()
