"""Start-up (issue 14): the console's first frame loads no IB adapter, plot, pydantic or config
model and shows the mode the config file names; a config refused behind that frame ends the
console in one line; the IB adapter built after it still connects and keeps an early kill."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli.console import refusal
from console.compose import StartupRefused, build_session
from console.lazy_ibkr import LazyIbkrBroker
from console.tui.widgets.status_bar import MODE_BADGE
from contracts.config import Config, ConfigError, load_config
from contracts.enums import DEFAULT_MODE, Mode, TradingState
from tests.console_frames import every_frame, first_frame
from tests.support import eventually

NOT_BEFORE_THE_FIRST_FRAME = {
    "ib_async",
    "eventkit",
    "numpy",
    "plotext",
    "textual_plotext",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "contracts.config",
    "contracts.strategy",
}
"""The IB adapter's stack (ib_async pulls eventkit and numpy), the latency plots, and pydantic
with the config models: the first frame shows the config's mode read from the file unvalidated;
the config is validated behind that frame."""

BUILT_AFTER_THE_FIRST_FRAME = {
    "broker.sim",
    "console.compose",
    "console.tui.screens.main",
    "console.tui.widgets.tables",
    "contracts.broker",
    "contracts.events",
    "engine.audit",
    "engine.engine",
    "engine.view",
}
"""The first frame draws the status bar only: the session (venue, store, engine), the engine's
event models and the main screen's panels load after it (issue 14)."""


@pytest.mark.parametrize(
    ("options", "badge", "also_not"),
    [
        (("--broker", "sim"), "SIM", set()),
        ((), "SIM", {"broker.ibkr", "broker.gateway"}),  # the embedded gateway, the default
    ],
    ids=["sim", "embedded-gateway"],
)
def test_the_first_frame_loads_no_adapter_and_no_plot(
    tmp_path: Path, options: tuple[str, ...], badge: str, also_not: set[str]
) -> None:
    frame = first_frame(tmp_path, *options)
    status, modules = frame.status, frame.modules
    assert badge in status and "connecting" in status  # the console, before the engine connects
    assert frame.collecting  # off only while the console is imported and built
    loaded = modules | {name.split(".")[0] for name in modules}
    assert not loaded & NOT_BEFORE_THE_FIRST_FRAME, loaded & NOT_BEFORE_THE_FIRST_FRAME
    assert not modules & also_not, modules & also_not
    assert not modules & BUILT_AFTER_THE_FIRST_FRAME, modules & BUILT_AFTER_THE_FIRST_FRAME


async def test_a_kill_before_the_connection_holds_and_is_confirmed_once_connected(
    tmp_path: Path,
) -> None:
    """The default embedded gateway: nothing of the adapter exists until it is used; a kill
    pressed before the connection halts at once and is confirmed with the broker after it."""
    config = Config.model_validate({"intake": {"demo": False}})
    session = build_session(config, data_dir=tmp_path, demo=False)
    engine = session.engine
    assert isinstance(engine.broker, LazyIbkrBroker)
    try:
        await session.start_venue()
        killed = await engine.kill("before the connection", actor="trader")
        assert killed.ok, killed.message
        assert engine.snapshot().trading_state is TradingState.HALTED
        await engine.start()
        assert engine.broker.connected
        await eventually(lambda: engine.snapshot().kill_confirmed, timeout=10)
        assert engine.snapshot().trading_state is TradingState.HALTED
    finally:
        await session.close()


def test_a_refusal_found_behind_the_first_frame_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The session is built after the first frame; its refusals (live gates, a store that
    cannot open...) end the console with the same one line as before the console was drawn."""
    assert refusal(StartupRefused("live mode refused: gate 8 open")) == 2
    err = capsys.readouterr().err
    assert err == "deskgate: live mode refused: gate 8 open\n"
    with pytest.raises(RuntimeError):  # a bug is not a refusal: its traceback shows
        refusal(RuntimeError("a bug"))


@pytest.mark.parametrize("mode", [Mode.LIVE, Mode.PAPER, Mode.SIM])
def test_the_first_frame_shows_the_mode_the_config_file_names(tmp_path: Path, mode: Mode) -> None:
    config = tmp_path / "deskgate.toml"
    config.write_text(f'mode = "{mode.value}"\naccount = "U1234567"\n')
    frame = first_frame(tmp_path, "--broker", "sim", "--config", str(config))
    assert MODE_BADGE[mode][0] in frame.status
    others = [MODE_BADGE[other][0].strip() for other in Mode if other is not mode]
    assert not any(label in frame.status for label in others), frame.status
    assert "pydantic" not in frame.modules and "contracts.config" not in frame.modules


@pytest.mark.parametrize(
    "text",
    [
        'mode = "LIVE"\n',  # not one of the modes
        "mode = 3\n",
        'mode = "live\n',  # not TOML
        'mode = "paper"\n[risk]\nmax_stop_ticks = "wide"\n',  # a valid mode, a bad key
    ],
    ids=["not-a-mode", "a-number", "broken-toml", "bad-risk-key"],
)
def test_a_config_refused_behind_the_first_frame_is_one_line_and_status_2(
    tmp_path: Path, text: str
) -> None:
    """The frame paints (with the mode the file names, else the default); validating the config
    behind it refuses with the loader's own line, and no session is built."""
    config = tmp_path / "deskgate.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    frames = every_frame(tmp_path, "--broker", "sim", "--config", str(config))
    named = Mode.PAPER if "paper" in text else DEFAULT_MODE
    assert frames.statuses and MODE_BADGE[named][0] in frames.statuses[0]
    assert frames.returncode == 2
    assert frames.stderr == f"deskgate: {refused.value}\n"
    assert not list((tmp_path / "data").rglob("*.sqlite"))


def test_a_config_that_cannot_be_read_paints_the_default_mode_then_is_refused(
    tmp_path: Path,
) -> None:
    config = tmp_path / "deskgate.toml"
    config.mkdir()  # not a file
    frames = every_frame(tmp_path, "--broker", "sim", "--config", str(config))
    assert frames.statuses and MODE_BADGE[DEFAULT_MODE][0] in frames.statuses[0]
    assert frames.returncode == 2
    assert frames.stderr.startswith(f"deskgate: {config}: cannot read config")
    assert frames.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("options", "chmod", "said"),
    [
        (("--port", "70000"), 0o600, "deskgate: --port: "),  # CliError: a bad option
        ((), 0o666, "writable by group or others"),  # ConfigError: a config others could edit
        ((), 0o600, "DESKGATE_LIVE_CONFIRM"),  # StartupRefused: live mode unconfirmed
    ],
    ids=["bad-option", "shared-config", "live-unconfirmed"],
)
def test_the_refusals_checked_behind_the_first_frame_are_one_line_and_status_2(
    tmp_path: Path, options: tuple[str, ...], chmod: int, said: str
) -> None:
    config = tmp_path / "deskgate.toml"
    config.write_text('mode = "live"\naccount = "U1234567"\n')
    config.chmod(chmod)
    frames = every_frame(tmp_path, "--broker", "sim", "--config", str(config), *options)
    assert frames.statuses and all("LIVE" in status for status in frames.statuses)
    assert frames.returncode == 2
    assert frames.stderr.startswith("deskgate: ") and said in frames.stderr
    assert frames.stderr.count("\n") == 1 and "Traceback" not in frames.stderr
    assert not list((tmp_path / "data").rglob("*.sqlite"))  # no session was built
