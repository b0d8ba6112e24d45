"""`deskgate gates`: evaluate the eight go-live gates from recorded evidence; write
GO_LIVE_DECISION.md (with --measure, first record gates 1–5's evidence from a checkout)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from console.cli.options import FILES, CliError, SubParsers, add_common, load

if TYPE_CHECKING:  # the domain loads when the verb runs, not when the parser is built
    from engine.gates import Decision


def exit_status(decision: Decision) -> int:
    """`deskgate gates` exit status: 0 approved, 1 conditional, 3 rejected (2: usage error)."""
    from engine.gates import Decision

    return {Decision.GO_LIVE_APPROVED: 0, Decision.CONDITIONAL: 1, Decision.REJECTED: 3}[decision]


def register(sub: SubParsers) -> None:
    p = sub.add_parser("gates", help="evaluate the go-live gates; write GO_LIVE_DECISION.md")
    add_common(p, FILES, verb="gates")
    p.add_argument(
        "--evidence-dir",
        default=".",
        help="where the evidence files are: ACCOUNT_CONFIG.json, PAPER_TRADING_METRICS.csv and "
        "what --measure writes (default: the current directory)",
    )
    p.add_argument("--coverage", help="coverage report (coverage.py JSON or Cobertura XML)")
    p.add_argument("--junit", help="pytest JUnit XML report")
    p.add_argument(
        "--measure",
        action="store_true",
        help="first run the checkout's test suite with coverage and its import contracts, and "
        "scan it (writes coverage.json, junit.xml, import-contracts.json, repository.json)",
    )
    p.add_argument("--repo", help="the deskgate checkout --measure runs in (default: here)")
    p.add_argument("--out", help="decision file (default <evidence-dir>/GO_LIVE_DECISION.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from console.cli import measure
    from engine.gates import decide, render_markdown, render_table
    from engine.golive_evidence import DECISION_FILE, EvidencePaths, gate_results

    config = load(args)
    evidence_dir = Path(args.evidence_dir).expanduser()
    if args.repo and not args.measure:
        raise CliError("--repo only applies with --measure")
    if args.measure:
        measure.measure(measure.checkout(Path(args.repo or ".").expanduser()), evidence_dir)
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
    return exit_status(decision.decision)
