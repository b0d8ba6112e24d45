"""The `deskgate` console in a subprocess: headless (its first frame, every frame's status) or on a
pseudo-terminal (what it wrote, and the terminal it left)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import REPO

FIRST_FRAME = """
import gc, json, os, sys
from textual.app import App

run_async, display = App.run_async, App._display

async def headless(self, **_):
    return await run_async(self, headless=True, size=(120, 40))

def first_frame(self, screen, renderable):
    display(self, screen, renderable)
    if renderable is not None:
        status = str(self.screen.query_one("#status").render())
        report = {"status": status, "modules": sorted(sys.modules), "gc": gc.isenabled()}
        print(json.dumps(report), flush=True)
        os._exit(0)

App.run_async = headless
App._display = first_frame
from console.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""Runs the `deskgate` entry point headless and reports what is loaded when the first frame is
painted, then ends the process on the spot (nothing after that frame is under test)."""

EVERY_FRAME = """
import json, os, sys
from textual.app import App

run_async, display = App.run_async, App._display

async def headless(self, **_):
    return await run_async(self, headless=True, size=(120, 40))

def every_frame(self, screen, renderable):
    display(self, screen, renderable)
    if renderable is not None:
        bars = screen.query("#status")
        status = str(bars.first().render()) if bars else ""
        os.write(1, (json.dumps(status) + "\\n").encode())

App.run_async = headless
App._display = every_frame
from console.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""Runs the `deskgate` entry point headless to its end, writing each painted frame's status bar
("" for a screen without one) as a JSON line on standard output."""


@dataclass(frozen=True)
class FirstFrame:
    status: str
    """The status bar's text."""
    modules: set[str]
    """Every module loaded when the frame was painted."""
    collecting: bool
    """Whether the garbage collector was on."""


@dataclass(frozen=True)
class Frames:
    statuses: list[str]
    """Each painted frame's status bar, in order."""
    returncode: int
    stderr: str


def console_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment whose home, config and data folders are under `tmp_path`."""
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if key != "DESKGATE_LIVE_CONFIRM"} | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    return env | extra


def run_console(
    harness: str, tmp_path: Path, options: tuple[str, ...], env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    argv = [*options, "--no-demo", "--data-dir", str(tmp_path / "data")]
    return subprocess.run(
        [sys.executable, "-c", harness, *argv],
        cwd=REPO,
        env=console_env(tmp_path) if env is None else env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def first_frame(tmp_path: Path, *options: str, env: dict[str, str] | None = None) -> FirstFrame:
    """`deskgate OPTIONS` at its first painted frame."""
    done = run_console(FIRST_FRAME, tmp_path, options, env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return FirstFrame(report["status"], set(report["modules"]), report["gc"])


def every_frame(tmp_path: Path, *options: str, env: dict[str, str] | None = None) -> Frames:
    """`deskgate OPTIONS` run to its end: each frame's status bar, the exit status, stderr."""
    done = run_console(EVERY_FRAME, tmp_path, options, env)
    statuses = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return Frames(statuses, done.returncode, done.stderr)


TEXTUAL_TAKES_OVER = "\x1b[?1000h"
"""Textual's driver enables the mouse right after it takes the terminal; the frame deskgate writes
before Textual loads (`console.tui.first_frame`) does not."""


@dataclass(frozen=True)
class TerminalRun:
    before_textual: str
    """What the process wrote to the terminal before Textual took it over (all of it if never)."""
    output: str
    """Everything it wrote."""
    returncode: int
    echo_and_lines: bool
    """Whether the terminal had echo and line editing back on after the process ended."""


def on_terminal(
    tmp_path: Path,
    *options: str,
    early: str = "",
    keys: str = "",
    env: dict[str, str] | None = None,
) -> TerminalRun:
    """`deskgate OPTIONS` on a pseudo-terminal (120x40, echo and line editing on, as a shell
    leaves it) run to its end: `early` is typed as soon as anything is on screen, `keys` once
    Textual has painted its starting screen."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    argv = [sys.executable, "-m", "console.cli", *options, "--no-demo"]
    argv += ["--data-dir", str(tmp_path / "data")]
    env = (console_env(tmp_path) if env is None else env) | {"TERM": "xterm-256color"}
    proc = subprocess.Popen(
        argv, cwd=REPO, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    output = bytearray()
    typed, typed_early = not keys, not early
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                output.extend(chunk)
            text = output.decode(errors="replace")
            if not typed_early and output:
                os.write(master, early.encode())
                typed_early = True
            if not typed and "engine starting" in text.partition(TEXTUAL_TAKES_OVER)[2]:
                os.write(master, keys.encode())
                typed = True
            if not ready and proc.poll() is not None:
                break
        returncode = proc.wait(timeout=30)
        lflag = termios.tcgetattr(master)[3]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = output.decode(errors="replace")
    return TerminalRun(
        before_textual=text.partition(TEXTUAL_TAKES_OVER)[0],
        output=text,
        returncode=returncode,
        echo_and_lines=bool(lflag & termios.ECHO and lflag & termios.ICANON),
    )
