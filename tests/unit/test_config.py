"""Config: defaults are the risk constitution; bad files get one line naming key and line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from contracts.config import Config, ConfigError, load_config, parse_config, write_default_config


def test_defaults_are_the_risk_constitution() -> None:
    c = Config()
    assert c.risk.max_risk_per_trade == Decimal(15)
    assert c.risk.max_stop_ticks == 12
    assert c.risk.max_trades_per_day == 2
    assert c.risk.daily_loss_limit == Decimal(30)
    assert c.risk.max_consecutive_losses == 2
    assert c.risk.max_orders_per_second <= 45
    assert c.reconcile.max_per_minute == 12
    assert c.tokens.expiry_s == 300
    assert c.lifecycle.stall_timeout_s == 60
    assert c.stale.threshold_min == 15


def test_init_writes_a_commented_file_that_loads_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "deskgate.toml"
    write_default_config(path)
    text = path.read_text()
    assert text.startswith("#") and "[risk]" in text
    assert load_config(path) == Config()
    with pytest.raises(ConfigError, match="already exists"):
        write_default_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[risk]\nmax_stop_ticks = -1\n", "risk.max_stop_ticks (line 2)"),
        ("mode = 'sim'\n\n[risk]\nbogus = 1\n", "risk.bogus (line 4): unknown key"),
        ("mode = 'yolo'\n", "mode (line 1)"),
        ("[broker]\nport = 'x'\n", "broker.port (line 2)"),
        ("[risk\n", "not valid TOML"),
        ("[console.keys]\napprove = 'r'\n", "console.keys"),
    ],
)
def test_bad_config_gets_one_line_naming_key_and_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="x.toml")
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_a_config_that_is_not_utf8_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'mode = "paper"\n# caf\xe9\n')
    expected = r"config\.toml: not UTF-8 text \(byte 0xe9 at offset 20\)"
    with pytest.raises(ConfigError, match=expected):
        load_config(path)
