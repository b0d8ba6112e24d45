"""Attacks with numbers and nesting: NaN, inf, 1e400 and deep JSON are refused at every door."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main as cli_main
from contracts.config import ConfigError, parse_config
from engine.clock import ManualClock
from engine.engine import Engine
from engine.intake import IntakeError, parse_intent, parse_intents
from tests.support import FakeBroker, config_with, make_intent, started_engine

CLOCK = ManualClock()


def intent_text() -> str:
    return make_intent(CLOCK).model_dump_json()


def with_breakdown(raw_value: str) -> str:
    return intent_text().replace('"trend":30.0', f'"trend":{raw_value}')


def with_order_field(field: str, value: object) -> str:
    data = json.loads(intent_text())
    data["order"][field] = value
    return json.dumps(data)


NON_FINITE_INTENTS = {
    "NaN literal in quality_breakdown": with_breakdown("NaN"),
    "Infinity literal": with_breakdown("Infinity"),
    "-Infinity literal": with_breakdown("-Infinity"),
    "1e400 overflows to inf": with_breakdown("1e400"),
    "NaN string quantity": with_order_field("quantity", "NaN"),
    "Infinity string limit": with_order_field("limit_price", "Infinity"),
    "1E+400 quantity": with_order_field("quantity", "1E+400"),
    "1E+999999 limit price": with_order_field("limit_price", "1E+999999"),
}


@pytest.mark.parametrize("text", NON_FINITE_INTENTS.values(), ids=NON_FINITE_INTENTS.keys())
def test_intake_refuses_non_finite_and_huge_numbers_in_one_line(text: str) -> None:
    for parse in (parse_intent, parse_intents):
        with pytest.raises(IntakeError) as info:
            parse(text)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("depth", [9, 1_000, 200_000])
def test_intake_refuses_deep_json_in_one_line(depth: int) -> None:
    deep = "[" * depth + "]" * depth
    nested_note = intent_text()[:-1] + ',"x":' + deep + "}"
    for text in (deep, nested_note):
        with pytest.raises(IntakeError) as info:
            parse_intents(text)
        assert "nested" in str(info.value) and "\n" not in str(info.value)


async def test_a_nan_intent_sent_to_the_engine_never_bricks_a_restart(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    with pytest.raises(IntakeError):
        await engine.propose(parse_intent(NON_FINITE_INTENTS["NaN literal in quality_breakdown"]))
    await engine.stop()
    clock = ManualClock()
    again = Engine(config_with(), FakeBroker(clock), data_dir=tmp_path, clock=clock)
    await again.start()  # would raise ValidationError if a NaN had been stored as null
    await again.stop()


async def test_an_overflowing_price_is_refused_before_it_is_recorded(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    with pytest.raises(IntakeError):
        parse_intent(NON_FINITE_INTENTS["1E+999999 limit price"])
    assert not any(e.kind == "INTENT" for e in engine.store.events())
    await engine.stop()


@pytest.mark.parametrize(
    "toml",
    [
        "[tokens]\nexpiry_s = inf\n",
        "[tokens]\nexpiry_s = nan\n",
        "[tokens]\nexpiry_s = 1e400\n",
        "[tokens]\nexpiry_s = 1e300\n",
        "[risk]\nmax_notional = inf\n",
        "[risk]\nmax_notional = 1e300\n",
        "[risk]\nquote_max_age_s = -inf\n",
        "[lifecycle]\nstall_timeout_s = 1e18\n",
        "[stale]\nttl_normal_min = 1e12\n",
        "[kill]\nrollback_pnl_pct = nan\n",
        "[broker]\nconnect_timeout_s = inf\n",
    ],
)
def test_config_refuses_non_finite_and_unbounded_numbers(toml: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(toml, source="deskgate.toml")
    message = str(info.value)
    assert message.startswith("deskgate.toml: ") and "\n" not in message


def test_config_refuses_deep_nesting_in_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "\n" not in str(info.value)


def test_the_cli_refuses_a_nan_intent_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "intent.json"
    path.write_text(NON_FINITE_INTENTS["NaN literal in quality_breakdown"])
    assert cli_main(["propose", str(path)]) != 0
    err = capsys.readouterr().err.strip()
    assert "not a finite number" in err and "\n" not in err


async def test_a_limit_cannot_be_set_to_a_non_finite_number(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    for value in ("nan", "inf", "1e400", "-inf"):
        result = engine.set_limit("max_notional", value, reason="typed")
        assert not result.ok and result.code == "BAD_LIMIT"
    assert engine.config.risk.max_notional == 25_000
    await engine.stop()


def test_a_config_of_raw_bytes_is_refused_in_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config file that is not text (a binary dropped in its place, a latin-1 editor) gets one
    line naming the file, never a traceback: from a verb here, and from the console behind its
    first frame (`Launch.open` loads it the same way)."""
    config = tmp_path / "config.toml"
    config.write_bytes(b"\xff\xfe\x00mode = 1\n")
    config.chmod(0o600)
    assert cli_main(["--config", str(config), "gates", "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("deskgate: ") and "config.toml: not UTF-8 text" in err
