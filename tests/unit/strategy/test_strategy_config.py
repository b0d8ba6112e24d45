"""The `[strategy]` config section: bounded, strict, written by `deskgate init`, fed to the bot."""

from __future__ import annotations

import pytest

from contracts.config import ConfigError, default_config_text, parse_config
from engine.strategy.plugin import make_plugin


def test_init_writes_the_strategy_section_and_it_reads_back():
    text = default_config_text()
    assert "[strategy]" in text and "# [strategy]" in text
    config = parse_config(text)
    assert config.strategy.enabled == ("K1", "K2", "K3", "K4", "K5")
    assert config.strategy.sizing.max_risk_per_trade == 15


def test_an_unknown_strategy_key_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"strategy\.sizing\.max_risk \(line 2\): unknown key"):
        parse_config("[strategy.sizing]\nmax_risk = 20\n")


def test_an_out_of_bounds_strategy_number_is_refused():
    with pytest.raises(ConfigError, match=r"strategy\.beliefs\.f1_k"):
        parse_config("[strategy.beliefs]\nf1_k = -1\n")


def test_the_plugin_takes_the_config_section_narrowed_by_the_flags():
    config = parse_config('[strategy]\nenabled = ["K1", "K2"]\n[strategy.euc]\ntheta = 0.2\n')
    plugin = make_plugin(config.strategy, None, "mes")
    assert plugin.config.enabled == ("K1", "K2") and plugin.config.symbols == ("MES",)
    assert plugin.config.euc.theta == 0.2
    assert make_plugin(config.strategy, "k3").config.enabled == ("K3",)
    with pytest.raises(ValueError, match="at least one template"):
        make_plugin(config.strategy, " , ")
