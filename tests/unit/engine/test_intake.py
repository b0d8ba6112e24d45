"""Intake: malformed input gets one clear line and writes nothing; the socket is 0600."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.engine import Engine
from engine.intake import IntakeError, IntakeServer, parse_intent, parse_intents, send_intents
from tests.support import FakeBroker, config_with, make_intent

CLOCK = ManualClock()


def good_json(**overrides: object) -> dict:  # type: ignore[type-arg]
    data = json.loads(make_intent(CLOCK).model_dump_json())
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "intent 1: an intent must be a JSON object"),
        ('"hello"', "must be a JSON object"),
        (json.dumps(good_json(extra_field=1)), "extra_field: unknown field"),
        (json.dumps(good_json(intent_id="has space")), "intent_id"),
        (
            json.dumps({**good_json(), "order": {**good_json()["order"], "quantity": -5}}),
            "order.quantity",
        ),
        (json.dumps({**good_json(), "state_ts": "2026-11-23T14:30:00"}), "state_ts"),
        (
            json.dumps({**good_json(), "order": {**good_json()["order"], "limit_price": None}}),
            "limit_price is required",
        ),
        (
            json.dumps({**good_json(), "order": {**good_json()["order"], "stop_loss": "100.50"}}),
            "stop_loss is on the wrong side",
        ),
        ("", "no intent"),
    ],
)
def test_malformed_intents_get_one_clear_line(text: str, expected: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse_intents(text)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_files_can_be_one_object_an_array_or_json_lines() -> None:
    one = make_intent(CLOCK).model_dump_json()
    two = make_intent(CLOCK).model_dump_json()
    assert len(parse_intents(one)) == 1
    assert len(parse_intents(f"[{one},{two}]")) == 2
    assert len(parse_intents(f"{one}\n{two}\n")) == 2
    pretty = json.dumps(json.loads(one), indent=2)
    assert len(parse_intents(pretty)) == 1


def test_a_bad_line_in_a_batch_refuses_the_whole_batch() -> None:
    one = make_intent(CLOCK).model_dump_json()
    with pytest.raises(IntakeError, match="intent 2"):
        parse_intents(f'{one}\n{{"intent_id": 5}}\n')


def test_non_utf8_is_refused() -> None:
    with pytest.raises(IntakeError, match="UTF-8"):
        parse_intent(b"\xff\xfe{}")


async def test_socket_is_0600_and_answers_each_line(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = FakeBroker(clock)
    sock = tmp_path / "intake.sock"
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock, intake_socket=sock)
    await engine.start()
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    good = make_intent(clock)
    replies = await send_intents(sock, [good])
    assert replies[0]["ok"] and replies[0]["intent_id"] == good.intent_id
    assert good.intent_id in engine.book.records
    # garbage on the socket: a one-line error, nothing recorded, the engine keeps running
    reader, writer = await asyncio.open_unix_connection(str(sock))
    writer.write(b'{"intent_id": "x"}\nnot json\n')
    await writer.drain()
    first = json.loads(await reader.readline())
    second = json.loads(await reader.readline())
    writer.close()
    assert not first["ok"] and "Field required" in first["message"]
    assert not second["ok"] and "not JSON" in second["message"]
    assert "x" not in engine.book.records
    again = make_intent(clock)
    assert (await send_intents(sock, [again]))[0]["ok"]
    await engine.stop()
    assert not sock.exists()


async def test_duplicate_intent_id_is_refused_without_writing(tmp_path: Path) -> None:
    clock = ManualClock()
    engine = Engine(config_with(), FakeBroker(clock), data_dir=tmp_path, clock=clock)
    await engine.start()
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    engine.store.flush()
    before = sum(1 for _ in engine.store.rows())
    again = await engine.propose(intent)
    assert not again.accepted and "already exists" in again.message
    engine.store.flush()
    assert sum(1 for _ in engine.store.rows()) == before
    await engine.stop()


async def test_socket_refuses_to_start_over_a_live_one(tmp_path: Path) -> None:
    async def propose(intent, source):  # type: ignore[no-untyped-def]
        raise AssertionError

    sock = tmp_path / "s.sock"
    first = IntakeServer(sock, propose)
    await first.start()
    second = IntakeServer(sock, propose)
    with pytest.raises(OSError, match="already listening"):
        await second.start()
    await first.stop()
