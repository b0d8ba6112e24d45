"""Gates 1–5 judge evidence files that `deskgate gates --measure` writes from a checkout;
`deskgate gates` alone reads only those files and the data dir, never the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import main
from console.cli.measure import FIXTURES, parse_lint_imports, scan_repository
from contracts.config import Config
from engine.gates import Verdict
from engine.golive_evidence import (
    IMPORT_CONTRACTS_FILE,
    REPOSITORY_FILE,
    EvidencePaths,
    gate_results,
    read_import_contracts,
)
from tests.support import REPO

KEPT = """\
Contracts
---------

Analyzed 157 files, 929 dependencies.
-------------------------------------

contracts <- engine <- broker, contracts <- engine <- console KEPT
only broker.ibkr imports ib_async KEPT (4 ignored imports)

Contracts: 2 kept, 0 broken.
"""


def test_lint_imports_report_becomes_the_gate_2_record(tmp_path: Path) -> None:
    kept = parse_lint_imports(KEPT, 0)
    assert kept["checked"] == 2 and kept["broken"] == []
    broken_text = KEPT.replace("ib_async KEPT (4 ignored imports)", "ib_async BROKEN").replace(
        "2 kept, 0 broken", "1 kept, 1 broken"
    )
    broken = parse_lint_imports(broken_text, 1)
    assert broken["checked"] == 2 and broken["broken"] == ["only broker.ibkr imports ib_async"]
    crashed = parse_lint_imports("Error: Could not find package 'engine'.", 1)
    assert crashed["checked"] == 0 and "Could not find package" in crashed["error"]
    path = tmp_path / IMPORT_CONTRACTS_FILE
    path.write_text(json.dumps(broken))
    evidence = read_import_contracts(path)
    assert evidence is not None and evidence.broken == ("only broker.ibkr imports ib_async",)
    path.write_text(json.dumps(crashed))
    assert read_import_contracts(path) is not None
    path.write_text("{not json")
    assert read_import_contracts(path) is None


def test_the_checkout_scan_finds_the_vendored_fixtures_every_stage_and_the_interface() -> None:
    scan = scan_repository(REPO)
    assert scan["fixtures"] == {"required": list(FIXTURES), "missing": []}
    assert all(scan["stage_files"][s] > 0 for s in ("unit", "integration", "console", "chaos"))
    assert scan["interface"]["unmapped_operations"] == []
    assert scan["interface"]["unmapped_error_codes"] == []
    assert len(scan["interface"]["operations"]) > 5


def test_measured_files_are_what_gates_1_to_3_judge(tmp_path: Path) -> None:
    (tmp_path / "coverage.json").write_text('{"totals": {"percent_covered": 91.0}}')
    (tmp_path / REPOSITORY_FILE).write_text(json.dumps(scan_repository(REPO)))
    (tmp_path / IMPORT_CONTRACTS_FILE).write_text(json.dumps(parse_lint_imports(KEPT, 0)))
    results = gate_results(Config(data_dir=str(tmp_path / "data")), EvidencePaths(tmp_path))
    assert [g.verdict for g in results[:3]] == [Verdict.PASS] * 3, results[:3]
    assert "2 import contracts kept" in results[1].detail


def test_measure_outside_a_checkout_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status = main(["gates", "--measure", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert f"{tmp_path} is not one" in err and "--repo" in err
    assert main(["gates", "--repo", str(REPO)]) == 2
    assert "--repo only applies with --measure" in capsys.readouterr().err


AUDITED_GATES = r"""
import importlib, json, os, pkgutil, sys

for top in ("contracts", "engine", "broker", "console"):
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
touched = []


def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir") and isinstance(args[0], (str, bytes)):
        touched.append(os.path.abspath(os.fsdecode(args[0])))


sys.addaudithook(hook)
from console.cli import main

status = main(sys.argv[1:])
sys.stdout.write("\nTOUCHED " + json.dumps(touched) + "\n")
"""


def test_gates_reads_nothing_from_the_source_tree_or_outside_its_dirs(tmp_path: Path) -> None:
    """Every deskgate module is imported first; then every file `deskgate gates` opens or lists
    must be in its evidence dir, its data dir or the Python installation."""
    here, home = tmp_path / "here", tmp_path / "home"
    here.mkdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DESKGATE_"))}
    done = subprocess.run(
        [sys.executable, "-c", AUDITED_GATES, "gates", "--data-dir", str(tmp_path / "data")],
        cwd=here,
        env={**env, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out, _, touched_json = done.stdout.rpartition("\nTOUCHED ")
    assert done.returncode == 0 and touched_json, done.stderr[-2000:]
    assert "fixture missing" not in out and "decision: REJECTED (insufficient gates passed" in out
    allowed = [str(tmp_path), sys.prefix, sys.base_prefix, sys.exec_prefix, "/dev", "/proc"]
    outside = [
        p
        for p in json.loads(touched_json)
        if not any(p == root or p.startswith(root.rstrip("/") + "/") for root in allowed)
    ]
    assert outside == []
    assert (here / "GO_LIVE_DECISION.md").exists()
