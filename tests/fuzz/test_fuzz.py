"""Fuzzing with hypothesis: malformed intents, configs and TWS frames get clear errors, never a
crash, and the engine keeps running with nothing already accepted lost (issue #5, item 7)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.gateway.codec import ProtocolError, decode_fields, split_frames
from broker.gateway.requests import (
    parse_exec_filter,
    parse_place_order,
    parse_req_with_contract,
    parse_version_range,
)
from broker.ibkr import mapping
from contracts.broker import (
    CommissionReported,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    order_ref_for,
)
from contracts.config import ConfigError, default_config_text, parse_config
from contracts.enums import LifecycleState, Side
from engine.clock import ManualClock
from engine.intake import IntakeError, parse_intent, parse_intents
from tests.support import approve_pending, config_with, make_intent, started_engine

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOOD = make_intent(ManualClock()).model_dump(mode="json")

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def one_clear_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message, message


@st.composite
def mutated_intents(draw: st.DrawFn) -> str:
    """A good intent with one field replaced, deleted or added, at any depth."""
    data = json.loads(json.dumps(GOOD))
    node = data
    path = []
    while isinstance(node, dict) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node)))
        path.append(key)
        if not isinstance(node[key], dict):
            break
        node = node[key]
    target = data
    for key in path[:-1]:
        target = target[key]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if path and action == "replace":
        target[path[-1]] = draw(json_value)
    elif path and action == "delete":
        del target[path[-1]]
    else:
        target[draw(st.text(min_size=1, max_size=8))] = draw(json_value)
    return json.dumps(data)


@FAST
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        mutated_intents(),
    )
)
def test_malformed_intents_get_one_clear_line(text: str) -> None:
    for parse in (parse_intent, parse_intents):
        try:
            parse(text)
        except IntakeError as exc:
            one_clear_line(str(exc))


@FAST
@given(st.binary(max_size=200))
def test_intent_bytes_are_refused_clearly(raw: bytes) -> None:
    try:
        parse_intent(raw)
    except IntakeError as exc:
        one_clear_line(str(exc))


toml_key = st.sampled_from(
    [
        "mode",
        "account",
        "data_dir",
        "broker.port",
        "broker.kind",
        "risk.max_risk_per_trade",
        "risk.max_trades_per_day",
        "tokens.expiry_s",
        "console.keys.kill",
        "scale.tiers",
        "nope",
    ]
)
toml_value = st.one_of(
    st.integers(),
    st.floats(allow_nan=False).map(repr),
    st.text(max_size=10).map(json.dumps),
    st.sampled_from(["true", "[]", "[1, 2]", "{}", '"live"', "-1", "1e400", "nan"]),
)


@FAST
@given(st.lists(st.tuples(toml_key, toml_value), max_size=4) | st.text(max_size=200))
def test_config_files_get_one_clear_line(spec: list[tuple[str, str]] | str) -> None:
    if isinstance(spec, str):
        text = spec
    else:
        text = default_config_text() + "".join(
            f"\n[{k.rsplit('.', 1)[0]}]\n{k.rsplit('.', 1)[1]} = {v}\n" if "." in k else ""
            for k, v in spec
        )
        text = "".join(f"{k} = {v}\n" for k, v in spec if "." not in k) + text
    try:
        parse_config(text, source="fuzz.toml")
    except ConfigError as exc:
        one_clear_line(str(exc))
        assert str(exc).startswith("fuzz.toml: ")


fields = st.lists(st.text(max_size=12) | st.integers().map(str), max_size=90)


@FAST
@given(st.binary(max_size=300))
def test_gateway_codec_never_raises_on_bytes(data: bytes) -> None:
    payloads, rest = split_frames(data)
    assert len(rest) <= len(data)
    for payload in payloads:
        assert isinstance(decode_fields(payload), list)


@FAST
@given(fields, st.sampled_from([176, 178]))
def test_gateway_request_parsers_raise_only_what_the_session_answers_with_321(
    f: list[str], version: int
) -> None:
    """The session turns ProtocolError/IndexError/ValueError into error 321; nothing else."""
    for parse in (
        lambda: parse_place_order(["3", *f], version),
        lambda: parse_exec_filter(["7", *f]),
        lambda: parse_req_with_contract(["1", *f]),
        lambda: parse_version_range(f[0] if f else ""),
    ):
        with contextlib.suppress(ProtocolError, IndexError, ValueError):
            parse()


@FAST
@given(
    st.text(max_size=20),
    st.integers(min_value=-(2**31), max_value=2**31),
    st.one_of(st.none(), st.floats(), st.integers(), st.text(max_size=12), st.decimals()),
)
def test_adapter_mapping_functions_answer_or_refuse_clearly(
    status: str, code: int, value: object
) -> None:
    assert mapping.order_status(status) is None or status
    mapping.classify_error(code)
    mapping.farm_name(status)
    number = mapping.to_decimal(value)  # type: ignore[arg-type]
    assert number is None or number.is_finite()
    if not isinstance(value, str):
        price = mapping.to_price(value)  # type: ignore[arg-type]
        assert price is None or (price.is_finite() and price > 0)
    try:
        assert mapping.side(status) in (Side.BUY, Side.SELL)
    except ValueError as exc:
        one_clear_line(str(exc))


broker_events = st.lists(
    st.one_of(
        st.builds(
            lambda ref, q, ex: ("fill", ref, q, ex),
            st.sampled_from(
                ["dg:known:ENTRY", "dg:ghost:ENTRY", "junk", "", "dg::SL", "dg:known:XX"]
            ),
            st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4),
            st.text(min_size=1, max_size=6),
        ),
        st.builds(
            lambda ref: ("cancel", ref, None, None), st.sampled_from(["dg:ghost:ENTRY", "x"])
        ),
        st.builds(
            lambda ref: ("reject", ref, None, None), st.sampled_from(["dg:ghost:ENTRY", "y"])
        ),
        st.builds(lambda ref: ("ack", ref, None, None), st.sampled_from(["dg:ghost:ENTRY", "z"])),
        st.builds(lambda ex: ("commission", "", None, ex), st.text(max_size=6)),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(junk=st.lists(st.text(max_size=80) | mutated_intents(), max_size=5), events=broker_events)
def test_engine_survives_junk_and_keeps_what_it_accepted(
    tmp_path_factory: pytest.TempPathFactory,
    junk: list[str],
    events: list[tuple],  # type: ignore[type-arg]
) -> None:
    asyncio.run(_survive(tmp_path_factory.mktemp("fuzz"), junk, events))


async def _survive(tmp_path: Path, junk: list[str], events: list[tuple]) -> None:  # type: ignore[type-arg]
    engine, broker, clock = await started_engine(tmp_path, config_with(max_trades_per_day=100))
    kept = make_intent(clock, intent_id="known")
    assert (await engine.propose(kept)).accepted
    assert (await approve_pending(engine, "known")).ok
    for text in junk:  # the intake refuses them before the engine sees anything
        try:
            for intent in parse_intents(text):
                if intent.intent_id != "known":
                    await engine.propose(intent, source="fuzz")
        except IntakeError:
            pass
    for kind, ref, qty, ex in events:
        now = clock.now()
        if kind == "fill":
            event = OrderFilled(
                ts=now,
                order_ref=ref,
                perm_id=1,
                exec_id=ex,
                side=Side.BUY,
                quantity=qty,
                price=Decimal("100"),
                cum_quantity=qty,
                remaining=Decimal(0),
            )
        elif kind == "cancel":
            event = OrderCancelled(ts=now, order_ref=ref, perm_id=1)
        elif kind == "reject":
            event = OrderRejected(ts=now, order_ref=ref, code=201, reason="fuzz")
        elif kind == "ack":
            event = OrderAccepted(ts=now, order_ref=ref, broker_order_id=1, perm_id=1)
        else:
            event = CommissionReported(ts=now, exec_id=ex, commission=Decimal("1"))
        broker.push(event)  # the adapter's sink: must never raise into the adapter
    rec = engine.book.records["known"]
    assert rec.order_ref == order_ref_for("known")  # still there, still sent exactly once
    assert [s.order_ref for s in broker.submits].count(order_ref_for("known")) == 1
    assert rec.state is not LifecycleState.PROPOSED
    engine.store.flush()
    assert engine.store.verify().ok
    later = make_intent(clock, intent_id="later", quantity=3)
    broker.quote("AAPL", "99.99", "100.01")
    assert (await engine.propose(later)).intent_id == "later"  # the engine still answers
    await engine.stop()


def test_a_field_named_newline_does_not_break_the_one_line_error() -> None:
    """Found by the fuzzer: an unknown key "\\n" put a raw newline into the message."""
    with pytest.raises(IntakeError) as refused:
        parse_intent(json.dumps({**GOOD, "\n": None}))
    one_clear_line(str(refused.value))
    assert "\\n" in str(refused.value)
