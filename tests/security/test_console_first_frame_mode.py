"""Start-up: the mode badge painted before the config is validated is the mode the config names.

The console's first frame is painted before its config is validated (issue 14): its badge is
read from the config file. A config that says live must show LIVE on every frame, never the
default SIM (nor PAPER) guessed while the real config is still being checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console_frames import console_env, every_frame, first_frame, on_terminal

ACCOUNT = "U1234567"
LIVE = f'mode = "live"\naccount = "{ACCOUNT}"\n'


def never_sim_or_paper(statuses: list[str]) -> None:
    assert statuses, "no frame was painted"
    for status in statuses:
        assert "LIVE" in status and "SIM" not in status and "PAPER" not in status, statuses


def test_a_live_config_is_live_on_the_first_frame(tmp_path: Path) -> None:
    config = tmp_path / "deskgate.toml"
    config.write_text(LIVE)
    frame = first_frame(tmp_path, "--broker", "sim", "--config", str(config))
    never_sim_or_paper([frame.status])


def test_a_live_config_refused_behind_the_first_frame_never_showed_another_mode(
    tmp_path: Path,
) -> None:
    config = tmp_path / "deskgate.toml"
    config.write_text(LIVE)
    frames = every_frame(tmp_path, "--broker", "sim", "--config", str(config))
    never_sim_or_paper(frames.statuses)
    assert frames.returncode == 2 and "DESKGATE_LIVE_CONFIRM" in frames.stderr


def test_a_confirmed_live_config_is_live_on_every_frame_until_the_gates_refuse(
    tmp_path: Path,
) -> None:
    """Validated and confirmed, the session is built behind the frame; the go-live gates refuse
    it: every frame up to that refusal says LIVE."""
    config = tmp_path / "deskgate.toml"
    config.write_text(LIVE)
    env = console_env(tmp_path, DESKGATE_LIVE_CONFIRM=ACCOUNT)
    frames = every_frame(tmp_path, "--broker", "sim", "--config", str(config), env=env)
    never_sim_or_paper(frames.statuses)
    assert frames.returncode == 2 and "gate 8" in frames.stderr


def test_the_default_config_file_is_the_one_read_for_the_badge(tmp_path: Path) -> None:
    """Without --config the badge comes from the same default file the loader reads."""
    default = tmp_path / "home" / ".config" / "deskgate" / "deskgate.toml"
    default.parent.mkdir(parents=True)
    default.write_text(LIVE)
    frames = every_frame(tmp_path, "--broker", "sim")
    never_sim_or_paper(frames.statuses)
    assert frames.returncode == 2 and "DESKGATE_LIVE_CONFIRM" in frames.stderr


@pytest.mark.parametrize("named", [True, False], ids=["--config", "default file"])
def test_the_frame_written_before_textual_loads_is_live_for_a_live_config(
    tmp_path: Path, named: bool
) -> None:
    """On a terminal the badge is written before Textual loads (`console.tui.first_frame`):
    that frame too says LIVE, whether the file is named or the default one."""
    config = tmp_path / "home" / ".config" / "deskgate" / "deskgate.toml"
    config.parent.mkdir(parents=True)
    config.write_text(LIVE)
    options = ("--broker", "sim", *(("--config", str(config)) if named else ()))
    run = on_terminal(tmp_path, *options)
    assert run.returncode == 2 and "DESKGATE_LIVE_CONFIRM" in run.output
    assert "▲ LIVE ▲" in run.before_textual
    assert " SIM " not in run.output and " PAPER " not in run.output
