"""`deskgate console --strategies K1,...,K5 --symbols MES` builds the bot from config [strategy]."""

from __future__ import annotations

import pytest

from console.cli import main
from console.cli.console import strategy_sources
from console.cli.dispatch import build_parser, parse
from contracts.config import parse_config
from engine.strategy.plugin import BotPlugin


def test_the_flags_build_the_bot_from_the_strategy_section() -> None:
    args = parse(build_parser(), ["console", "--strategies", "k1,K3", "--symbols", "MES"])
    config = parse_config("[strategy.euc]\ntheta = 0.1\n")
    (plugin,) = strategy_sources(args, config)
    assert isinstance(plugin, BotPlugin)
    assert plugin.config.enabled == ("K1", "K3") and plugin.config.symbols == ("MES",)
    assert plugin.config.euc.theta == 0.1


def test_without_the_flags_there_is_no_bot() -> None:
    assert strategy_sources(parse(build_parser(), []), parse_config("")) == []
    assert strategy_sources(parse(build_parser(), ["console"]), parse_config("")) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["console", "--strategies", "K1,K9"], "unknown strategy K9"),
        (["console", "--symbols", "MES"], "--symbols needs --strategies"),
    ],
)
def test_a_bad_bot_option_is_one_line_and_nothing_starts(
    argv: list[str], message: str, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.rglob("*.sqlite"))  # no session was built
