"""The deskgate command line, run as a trader would run it (a subprocess)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from contracts.events import IntentReceived
from engine.audit import AuditStore
from engine.clock import ManualClock
from tests.support import make_intent


def deskgate(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_explains_every_console_option() -> None:
    out = deskgate("--help").stdout
    for option in (
        "--broker",
        "--host",
        "--port",
        "--client-id",
        "--config",
        "--data-dir",
        "--seed",
        "--chaos",
    ):
        assert option in out


def test_init_writes_a_config_and_a_bad_config_gets_one_line(tmp_path: Path) -> None:
    path = tmp_path / "dg.toml"
    assert deskgate("init", "--config", str(path)).returncode == 0
    assert path.read_text().startswith("#")
    path.write_text("[risk]\nmax_stop_ticks = 'wide'\n")
    result = deskgate("audit", "--config", str(path), "verify")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "risk.max_stop_ticks (line 2)" in result.stderr and "Traceback" not in result.stderr


def test_propose_without_a_running_console_says_so(tmp_path: Path) -> None:
    clock = ManualClock()
    result = deskgate(
        "propose", "--data-dir", str(tmp_path), "-", stdin=make_intent(clock).model_dump_json()
    )
    assert result.returncode == 2 and "start the console first" in result.stderr


def test_propose_rejects_malformed_input_with_one_line(tmp_path: Path) -> None:
    result = deskgate("propose", "--data-dir", str(tmp_path), "-", stdin='{"intent_id": 1}')
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.startswith("deskgate: -: ")


def test_audit_verify_tail_export_and_tamper_detection(tmp_path: Path) -> None:
    clock = ManualClock()
    store = AuditStore(tmp_path / "DU1.sqlite")
    for _ in range(5):
        now = clock.now()
        store.append(
            IntentReceived(ts_event=now, ts_init=now, intent=make_intent(clock), source="t")
        )
    store.close()
    file_args = ("audit", "--file", str(tmp_path / "DU1.sqlite"))
    ok = deskgate(*file_args, "verify")
    assert ok.returncode == 0 and "5 beads checked, hash chain ok" in ok.stdout
    tail = deskgate(*file_args, "tail", "-n", "2")
    assert tail.returncode == 0 and len(tail.stdout.splitlines()) == 2
    export = deskgate(*file_args, "export")
    rows = [json.loads(line) for line in export.stdout.splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    conn = sqlite3.connect(str(tmp_path / "DU1.sqlite"))
    conn.execute("DELETE FROM beads WHERE seq = 3")
    conn.commit()
    conn.close()
    bad = deskgate(*file_args, "verify")
    assert bad.returncode == 1 and "seq 4" in bad.stdout


def test_audit_without_a_store_is_a_clear_error(tmp_path: Path) -> None:
    result = deskgate("audit", "--data-dir", str(tmp_path), "verify")
    assert result.returncode == 2 and "no audit store" in result.stderr


def test_live_mode_without_confirmation_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "live.toml"
    config.write_text('mode = "live"\naccount = "U1234567"\n[broker]\nkind = "ibkr"\nport = 4001\n')
    result = deskgate("--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "DESKGATE_LIVE_CONFIRM" in result.stderr
