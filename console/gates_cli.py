"""`deskgate gates` (table + GO_LIVE_DECISION.md) and `deskgate signoff` (an audit bead)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from console.golive import (
    COVERAGE_FILE,
    DECISION_FILE,
    JUNIT_FILE,
    REPO,
    EvidencePaths,
    gate_results,
    record_signoff,
)
from engine.gates import Decision, decide, render_markdown, render_table

EXIT = {Decision.GO_LIVE_APPROVED: 0, Decision.CONDITIONAL: 1, Decision.REJECTED: 3}
"""`deskgate gates` exit status: 0 approved, 1 conditional, 3 rejected (2: usage error)."""


def measure(evidence_dir: Path) -> int:
    """Run the whole test suite with coverage; write coverage.json and junit.xml."""
    evidence_dir = evidence_dir.resolve()
    evidence_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        *(f"--cov={pkg}" for pkg in ("contracts", "engine", "broker", "console")),
        f"--cov-report=json:{evidence_dir / COVERAGE_FILE}",
        f"--junitxml={evidence_dir / JUNIT_FILE}",
    ]
    print("measuring: " + " ".join(cmd[2:]), file=sys.stderr)
    env = {**os.environ, "COVERAGE_FILE": str(evidence_dir / ".coverage")}
    return subprocess.run(cmd, cwd=REPO, check=False, env=env).returncode


def cmd_gates(args: argparse.Namespace) -> int:
    from console.cli import _load

    config = _load(args)
    evidence_dir = Path(args.evidence_dir).expanduser()
    if args.measure:
        measure(evidence_dir)
    paths = EvidencePaths(
        evidence_dir,
        coverage=Path(args.coverage).expanduser() if args.coverage else None,
        junit=Path(args.junit).expanduser() if args.junit else None,
    )
    results = gate_results(config, paths)
    decision = decide(results)
    print(render_table(results))
    print(f"\ndecision: {decision.decision.value}")
    for g in decision.failing:
        print(f"  failing: gate {g.number} {g.name}: {g.detail}\n  action: {g.action}")
    for req in decision.open_requirements:
        print(f"  open: {req}")
    out = Path(args.out).expanduser() if args.out else evidence_dir / DECISION_FILE
    out.write_text(render_markdown(results, decision, datetime.now(UTC)), encoding="utf-8")
    print(f"wrote {out}")
    return EXIT[decision.decision]


def cmd_signoff(args: argparse.Namespace) -> int:
    from console.cli import _fail, _load

    config = _load(args)
    try:
        event = record_signoff(config, args.role, args.name, args.note or "")
    except ValueError as exc:
        return _fail(str(exc))
    print(f"sign-off recorded: {event.role} = {event.name} at {event.ts_init.isoformat()}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from console.cli import _common

    p = sub.add_parser("gates", help="evaluate the go-live gates; write GO_LIVE_DECISION.md")
    _common(p)
    p.add_argument(
        "--evidence-dir",
        default=".",
        help="where ACCOUNT_CONFIG.json, PAPER_TRADING_METRICS.csv, coverage.json and "
        "junit.xml are (default: the current directory)",
    )
    p.add_argument("--coverage", help="coverage report (coverage.py JSON or Cobertura XML)")
    p.add_argument("--junit", help="pytest JUnit XML report")
    p.add_argument(
        "--measure",
        action="store_true",
        help="run the test suite with coverage first (writes coverage.json and junit.xml)",
    )
    p.add_argument("--out", help="decision file (default <evidence-dir>/GO_LIVE_DECISION.md)")
    p.set_defaults(func=cmd_gates)

    p = sub.add_parser("signoff", help="record a go-live sign-off as an audit bead")
    _common(p)
    p.add_argument("--role", required=True, help="risk_officer, cto or lead_trader")
    p.add_argument("--name", required=True, help="the signer's name")
    p.add_argument("--note", help="optional remark")
    p.set_defaults(func=cmd_signoff)
