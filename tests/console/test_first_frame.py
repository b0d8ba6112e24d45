"""The frame `deskgate` writes before Textual loads, and the terminal it gives back."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from console.tui.first_frame import ENGINE_STARTING, ERASE, MODE_LABEL, frame_text
from console.tui.widgets.status_bar import MODE_BADGE
from contracts.enums import Mode
from tests.console_frames import TEXTUAL_TAKES_OVER, on_terminal
from tests.support import REPO

ENTER, LEAVE = "\x1b[?1049h", "\x1b[?1049l"


def left_the_alternate_screen(output: str) -> bool:
    return output.rfind(LEAVE) > output.rfind(ENTER)


@pytest.mark.parametrize("mode", list(Mode))
def test_the_frame_shows_the_status_bars_badge_and_the_starting_line(mode: Mode) -> None:
    text = frame_text(mode, 120, color=True)
    assert MODE_LABEL[mode] == MODE_BADGE[mode][0]  # the badge the status bar then draws
    assert MODE_LABEL[mode] in text and ENGINE_STARTING in text and "connecting…" in text
    # at the shell's cursor: the alternate screen is Textual's to enter (it saves the cursor
    # there, and leaving restores it to the end of this frame, which is then erased)
    assert ENTER not in text and text.count("\n") == 1


def test_no_color_draws_the_badge_in_reverse_video_without_colours() -> None:
    text = frame_text(Mode.LIVE, 120, color=False)
    assert "▲ LIVE ▲" in text and "48;5" not in text and "38;5" not in text and "\x1b[1;7m" in text


def test_a_narrow_terminal_keeps_the_whole_badge_and_cuts_the_rest() -> None:
    text = frame_text(Mode.LIVE, 12, color=False)
    assert MODE_LABEL[Mode.LIVE] in text and "connecting…" not in text and " c" in text
    assert f" {ENGINE_STARTING}"[:12] in text and ENGINE_STARTING not in text


def test_without_a_terminal_nothing_is_written() -> None:
    probe = (
        "from console.tui.first_frame import FirstFrame\n"
        "from contracts.enums import Mode\n"
        "print(FirstFrame.draw(Mode.SIM))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "None\n", "")


def test_the_badge_is_on_screen_before_textual_and_the_terminal_is_given_back(
    tmp_path: Path,
) -> None:
    run = on_terminal(tmp_path, "--broker", "sim", early="x", keys="q")
    assert run.returncode == 0, run.output[-2000:]
    assert TEXTUAL_TAKES_OVER in run.output  # Textual drew after it
    assert " SIM " in run.before_textual and ENGINE_STARTING in run.before_textual
    assert "x" not in run.before_textual  # a key typed while Textual loads is not echoed
    # erased just before Textual enters its screen: the cursor Textual saves, and gives back
    # on leaving, is where the frame began (not below it, nor on the alternate screen)
    assert run.before_textual.index(ERASE) > run.before_textual.index(ENGINE_STARTING)
    assert run.before_textual.rindex(ERASE) < run.before_textual.index(ENTER)
    assert left_the_alternate_screen(run.output)
    assert ERASE not in run.output[run.output.rfind(LEAVE) :]  # nothing after it is erased
    assert run.echo_and_lines  # the shell gets its terminal back as it was


def test_a_refusal_leaves_the_terminal_as_it_was_and_says_why_on_the_shells_screen(
    tmp_path: Path,
) -> None:
    config = tmp_path / "deskgate.toml"
    config.write_text('mode = "paper"\n[risk]\nmax_position = "many"\n')
    run = on_terminal(tmp_path, "--broker", "sim", "--config", str(config))
    assert run.returncode == 2, run.output[-2000:]
    assert " PAPER " in run.before_textual
    assert left_the_alternate_screen(run.output) and run.echo_and_lines
    said = run.output[run.output.rfind(LEAVE) :]
    assert "max_position" in said and ERASE not in said  # printed where the frame was, kept


def test_a_frame_textual_never_took_over_is_erased_and_the_terminal_given_back() -> None:
    """The process ends before Textual starts (an import failing, Ctrl+C while it loads)."""
    probe = (
        "from console.tui.first_frame import FirstFrame\n"
        "from contracts.enums import Mode\n"
        "FirstFrame.draw(Mode.PAPER).close()\n"
    )
    master, slave = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm-256color"},
        timeout=60,
        check=False,
    )
    os.close(slave)
    output = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    lflag = termios.tcgetattr(master)[3]
    os.close(master)
    text = output.decode(errors="replace")
    assert done.returncode == 0, text
    assert text.index(" PAPER ") < text.index(ERASE) < text.index("\x1b[?25h")
    assert lflag & termios.ECHO and lflag & termios.ICANON
