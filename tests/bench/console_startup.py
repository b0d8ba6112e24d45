"""Start-up benchmark: `deskgate` (sim and embedded gateway) and a bare Textual app, exec to first
frame and to connected, under a pseudo-terminal (used by bench_console_live `--only startup`)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from console.tui.first_frame import MODE_LABEL
from tests.bench.virtual_terminal import HEIGHT, WIDTH, VirtualTerminal
from tests.console_frames import TEXTUAL_TAKES_OVER

REPO = Path(__file__).resolve().parents[2]
Rows = dict[str, str]
Figures = dict[str, float]


BADGE = re.compile("|".join(re.escape(label) for label in MODE_LABEL.values()))


@dataclass
class Timings:
    """Seconds from spawn: the first status-bar frame, the first one Textual painted (the same
    for an app that draws nothing before Textual), the bar showing the connected marker."""

    first: float | None = None
    textual: float | None = None
    connected: float | None = None


def _spawn_and_time(
    argv: list[str], env: dict[str, str], connected_marker: str, timeout: float = 30.0
) -> Timings:
    """Time `argv` under a pseudo-terminal until its status bar shows `connected_marker`."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
    vt = VirtualTerminal()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
        start_new_session=True,
    )
    os.close(slave)
    got = Timings()
    textual_output: str | None = None  # what Textual wrote, once it took the terminal over
    buffer = b""
    deadline = t0 + timeout
    try:
        while time.perf_counter() < deadline and None in (got.first, got.textual, got.connected):
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            now = time.perf_counter()
            buffer += chunk
            text = buffer.decode("utf-8", errors="ignore")
            if text.encode("utf-8") != buffer:  # an incomplete multibyte tail: wait for it
                continue
            buffer = b""
            vt.feed(text)
            status = vt.line(0)
            if got.first is None and BADGE.search(status):
                got.first = now - t0
            if textual_output is not None:
                textual_output += text
            elif TEXTUAL_TAKES_OVER in text:
                textual_output = text.partition(TEXTUAL_TAKES_OVER)[2]
            if got.textual is None and textual_output and BADGE.search(textual_output):
                got.textual = now - t0
            if got.connected is None and got.first is not None and connected_marker in status:
                got.connected = now - t0
        os.write(master, b"q")
        end = time.perf_counter() + 10
        while proc.poll() is None and time.perf_counter() < end:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(master, 65536)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    return got


def _startup_env(home: Path, bytecode: Path) -> dict[str, str]:
    """A fresh user (no config) whose Python keeps its compiled bytecode in `bytecode`.

    An installed deskgate starts from compiled bytecode (pip compiles at install, or the first
    run writes it). With PYTHONDONTWRITEBYTECODE set, as in some shells and CI, an editable
    checkout would recompile every module on every start and the figure would time the
    compiler; the bytecode goes to a private directory instead, filled by an untimed run.
    """
    env = {
        **os.environ,
        "HOME": str(home),  # no user config
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "TERM": "xterm-256color",
        "COLUMNS": str(WIDTH),
        "LINES": str(HEIGHT),
        "PYTHONPYCACHEPREFIX": str(bytecode),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _startup_once(exe: str, extra: list[str], marker: str, bytecode: Path) -> Timings:
    home = Path(tempfile.mkdtemp(prefix="dg-start-"))
    try:
        argv = [exe, *extra, "--no-demo", "--data-dir", str(home / "data")]
        return _spawn_and_time(argv, _startup_env(home, bytecode), marker)
    finally:
        shutil.rmtree(home, ignore_errors=True)


FLOOR_APP = Path(__file__).with_name("textual_floor.py")
"""A Textual app that paints one Static: what Textual itself costs here, from exec to frame."""


def textual_floor(runs: int, bytecode: Path) -> tuple[str, float]:
    """The floor's first frame, timed like deskgate's: (its row, its median in ms)."""
    argv = [sys.executable, str(FLOOR_APP)]
    firsts: list[float] = []
    for run in range(runs + 1):  # the first run is untimed: it compiles what the floor imports
        home = Path(tempfile.mkdtemp(prefix="dg-floor-"))
        try:
            first = _spawn_and_time(argv, _startup_env(home, bytecode), "connecting").first
        finally:
            shutil.rmtree(home, ignore_errors=True)
        if run and first is not None:
            firsts.append(first * 1000)
    if not firsts:
        raise RuntimeError("the Textual floor app never painted")
    return spread(firsts, runs), statistics.median(firsts)


def spread(samples: list[float], runs: int) -> str:
    """`median ... ms  min ...  max ...  (n/runs runs)` of start-up times in ms."""
    return (
        f"median {statistics.median(samples):6.0f} ms  "
        f"min {min(samples):6.0f}  max {max(samples):6.0f}  ({len(samples)}/{runs} runs)"
    )


def startup(runs: int) -> tuple[Rows, Figures]:
    exe = str(Path(sys.executable).with_name("deskgate"))
    results: dict[str, str] = {}
    figures: Figures = {}
    cases: tuple[tuple[str, str, list[str], str], ...] = (
        ("sim", "--broker sim", ["--broker", "sim"], "● sim"),
        ("gateway", "default (embedded gateway)", [], "● ibkr"),
    )
    bytecode = Path(tempfile.mkdtemp(prefix="dg-pyc-"))
    for key, label, extra, marker in cases:
        samples: dict[str, list[float]] = {"first": [], "textual": [], "connected": []}
        _startup_once(exe, extra, marker, bytecode)  # untimed: compiles what this path imports
        for _ in range(runs):
            timings = _startup_once(exe, extra, marker, bytecode)
            for name, got in samples.items():
                seconds = getattr(timings, name)
                if seconds is not None:
                    got.append(seconds * 1000)
        rows = {
            "first": f"{label}: first frame (status bar)",
            "textual": f"{label}: first frame Textual painted",
            "connected": f"{label}: status bar shows '{marker}'",
        }
        for name, row in rows.items():
            results[row] = spread(samples[name], runs) if samples[name] else "not observed"
        if not all(samples.values()):
            raise RuntimeError(f"{label}: the console never painted or never connected")
        figures[f"startup_{key}_first_frame_median_ms"] = statistics.median(samples["first"])
        figures[f"startup_{key}_textual_frame_median_ms"] = statistics.median(samples["textual"])
        figures[f"startup_{key}_connected_median_ms"] = statistics.median(samples["connected"])
    floor_row, figures["startup_textual_floor_median_ms"] = textual_floor(runs, bytecode)
    results["Textual floor (one Static in a Screen): first frame"] = floor_row
    shutil.rmtree(bytecode, ignore_errors=True)
    figures["startup_first_frame_median_ms"] = max(
        figures["startup_sim_first_frame_median_ms"],
        figures["startup_gateway_first_frame_median_ms"],
    )
    figures["startup_connected_median_ms"] = max(
        figures["startup_sim_connected_median_ms"], figures["startup_gateway_connected_median_ms"]
    )
    return results, figures
