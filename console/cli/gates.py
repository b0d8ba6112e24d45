"""`deskgate gates`: evaluate the eight go-live gates; write GO_LIVE_DECISION.md."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from console.cli.options import FILES, SubParsers, add_common, load
from console.golive import (
    COVERAGE_FILE,
    DECISION_FILE,
    JUNIT_FILE,
    REPO,
    EvidencePaths,
    gate_results,
)
from engine.gates import Decision, decide, render_markdown, render_table

EXIT = {Decision.GO_LIVE_APPROVED: 0, Decision.CONDITIONAL: 1, Decision.REJECTED: 3}
"""`deskgate gates` exit status: 0 approved, 1 conditional, 3 rejected (2: usage error)."""


def register(sub: SubParsers) -> None:
    p = sub.add_parser("gates", help="evaluate the go-live gates; write GO_LIVE_DECISION.md")
    add_common(p, FILES, verb="gates")
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
    p.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    config = load(args)
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
