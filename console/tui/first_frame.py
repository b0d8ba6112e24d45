"""The console's first frame, written straight to the terminal while Textual is still loading."""

from __future__ import annotations

import contextlib
import os
import sys
import termios
from dataclasses import dataclass
from typing import Any

from contracts.enums import Mode

MODE_LABEL = {Mode.SIM: " SIM ", Mode.PAPER: " PAPER ", Mode.LIVE: " ▲ LIVE ▲ "}
"""The mode badge's text, here and on the status bar."""
CONNECTING = "connecting…"
"""The status bar's phase before the engine's first snapshot."""
ENGINE_STARTING = "engine starting…"
"""The line under the status bar while the engine is being built."""

_BADGE_SGR = {Mode.SIM: "1;30;48;5;75", Mode.PAPER: "1;30;48;5;214", Mode.LIVE: "1;97;48;5;160"}
"""The badge's colours as the status bar draws them (#5fafff, #ffaf00, #d70000 on xterm-256)."""
_BAR_SGR = "48;5;238"
_HIDE_CURSOR, _SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
ERASE = "\r\x1b[1A\x1b[J"
"""From the frame's last line: back to the start of its first line, and clear from there down."""


def frame_text(mode: Mode, width: int, color: bool) -> str:
    """The escape sequences of the frame, two lines from the start of the cursor's line: the
    status bar's badge and phase (cut to `width`, the badge never), ENGINE_STARTING under it;
    no colour when `color` is False.

    It is drawn where the shell's cursor is, not on the alternate screen: Textual enters that
    screen itself, saving the cursor there (xterm and VTE on every entry), and restores it when
    it leaves. The frame is erased just before that entry (`erase`), so the cursor Textual
    saves and gives back is where the frame began: the shell's prompt, a refusal's line or a
    traceback then goes there, and nothing of theirs is erased."""
    badge = MODE_LABEL[mode]
    phase = f" {CONNECTING} "[: max(0, width - len(badge))]
    message = f" {ENGINE_STARTING}"[: max(0, width)]
    if color:
        on_bar = f"\x1b[0;{_BAR_SGR};1;33m"
        bar = f"\x1b[{_BAR_SGR}m\x1b[2K\x1b[{_BADGE_SGR[mode]}m{badge}{on_bar}{phase}"
    else:
        bar = f"\x1b[2K\x1b[1;7m{badge}\x1b[0;1m{phase}"
    return f"{_HIDE_CURSOR}\r{bar}\x1b[0m\r\n\x1b[2K{message}"


@dataclass
class FirstFrame:
    """A frame drawn by `draw`, taken away by `erase` (once Textual is about to draw); `close`
    gives the terminal back as it was before it."""

    fd_in: int
    fd_out: int
    saved: list[Any]
    """The terminal's attributes before the frame (echo and line editing are off under it, so
    keys typed while Textual loads wait for the console instead of landing on the screen)."""
    erased: bool = False

    @classmethod
    def draw(cls, mode: Mode) -> FirstFrame | None:
        """Draw the frame where Textual will draw (stdin's terminal, written to stderr); None
        when there is no such terminal in the foreground, or it is a dumb one."""
        try:
            fd_in, fd_out = sys.__stdin__.fileno(), sys.__stderr__.fileno()  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            return None
        if os.environ.get("TERM", "dumb") == "dumb" or not (os.isatty(fd_in) and os.isatty(fd_out)):
            return None
        if _in_background(fd_in):
            return None  # touching the terminal would stop the process (SIGTTOU)
        try:
            saved = termios.tcgetattr(fd_in)
            quiet = termios.tcgetattr(fd_in)
            quiet[3] &= ~(termios.ECHO | termios.ICANON)
            termios.tcsetattr(fd_in, termios.TCSANOW, quiet)
        except (OSError, termios.error):
            return None
        frame = cls(fd_in, fd_out, saved)
        try:
            width = os.get_terminal_size(fd_out).columns
        except OSError:
            width = 80
        try:
            frame._write(frame_text(mode, width, color=not os.environ.get("NO_COLOR")))
        except OSError:
            frame.close()
            return None
        return frame

    def erase(self) -> None:
        """Take the frame away (once): the cursor is back where the frame began."""
        if not self.erased:
            self.erased = True
            with contextlib.suppress(OSError):
                self._write(ERASE)

    def close(self) -> None:
        """Give the terminal back: the frame erased (if Textual never took over), the cursor
        shown, echo and line editing restored."""
        self.erase()
        with contextlib.suppress(OSError, termios.error):
            self._write(_SHOW_CURSOR)
            termios.tcsetattr(self.fd_in, termios.TCSADRAIN, self.saved)

    def _write(self, text: str) -> None:
        data = text.encode()
        while data:
            data = data[os.write(self.fd_out, data) :]


def _in_background(fd: int) -> bool:
    """Whether `fd` is this process's controlling terminal and another group has it."""
    try:
        return os.tcgetpgrp(fd) != os.getpgrp()
    except OSError:
        return False  # not our controlling terminal: no job control to stop us
