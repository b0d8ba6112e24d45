"""The first frame's mode badge: read from the config file `load` reads, without validating it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from console.cli.options import configured_mode, load
from contracts.config import Config, ConfigError
from contracts.enums import DEFAULT_MODE, Mode


def args(config: Path | None) -> argparse.Namespace:
    return argparse.Namespace(config=str(config) if config else None, data_dir=None, broker=None)


def test_the_default_mode_is_the_configs_default() -> None:
    assert Config().mode is DEFAULT_MODE


@pytest.mark.parametrize("mode", list(Mode))
def test_a_valid_config_gives_the_mode_load_validates(tmp_path: Path, mode: Mode) -> None:
    config = tmp_path / "deskgate.toml"
    config.write_text(f'mode = "{mode.value}"\n[risk]\nmax_stop_ticks = 20\n')
    assert configured_mode(args(config)) is mode is load(args(config)).mode


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_the_file_is_read_as_load_reads_it(tmp_path: Path, newline: str) -> None:
    config = tmp_path / "deskgate.toml"
    config.write_bytes(f'# a note{newline}mode = "live"{newline}'.encode())
    assert configured_mode(args(config)) is Mode.LIVE is load(args(config)).mode


def test_no_config_file_and_a_file_without_a_mode_give_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/deskgate/deskgate.toml
    assert configured_mode(args(None)) is DEFAULT_MODE is load(args(None)).mode
    config = tmp_path / "deskgate.toml"
    config.write_text("[risk]\nmax_stop_ticks = 20\n")
    assert configured_mode(args(config)) is DEFAULT_MODE is load(args(config)).mode


def test_the_default_config_file_is_read_when_no_config_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    default = tmp_path / ".config" / "deskgate" / "deskgate.toml"
    default.parent.mkdir(parents=True)
    default.write_text('mode = "paper"\n')
    assert configured_mode(args(None)) is Mode.PAPER is load(args(None)).mode


@pytest.mark.parametrize(
    "text",
    ['mode = "LIVE"\n', "mode = 1\n", 'mode = ["live"]\n', 'mode = "live\n'],
    ids=["not-a-mode", "a-number", "a-list", "broken-toml"],
)
def test_a_config_load_refuses_gives_the_default(tmp_path: Path, text: str) -> None:
    config = tmp_path / "deskgate.toml"
    config.write_text(text)
    assert configured_mode(args(config)) is DEFAULT_MODE
    with pytest.raises(ConfigError):
        load(args(config))


def test_an_unreadable_config_gives_the_default(tmp_path: Path) -> None:
    assert configured_mode(args(tmp_path)) is DEFAULT_MODE  # a directory
    not_utf8 = tmp_path / "latin1.toml"
    not_utf8.write_bytes(b'mode = "live" # \xff\n')
    assert configured_mode(args(not_utf8)) is DEFAULT_MODE
    assert configured_mode(args(tmp_path / "missing.toml")) is DEFAULT_MODE
