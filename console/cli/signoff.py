"""`deskgate signoff`: record a go-live sign-off as an audit bead."""

from __future__ import annotations

import argparse
from pathlib import Path

from console.cli.options import FILES, SubParsers, add_common, fail, load


def register(sub: SubParsers) -> None:
    p = sub.add_parser("signoff", help="record a go-live sign-off as an audit bead")
    add_common(p, FILES, verb="signoff")
    p.add_argument("--role", required=True, help="risk_officer, cto or lead_trader")
    p.add_argument("--name", required=True, help="the signer's name")
    p.add_argument(
        "--verdict",
        required=True,
        type=str.upper,
        choices=("APPROVE", "REJECT"),
        help="APPROVE or REJECT the evidence as it is now",
    )
    p.add_argument(
        "--evidence-dir",
        default=".",
        help="the evidence signed for (default: the current directory, as for deskgate gates)",
    )
    p.add_argument("--note", help="optional remark")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.golive_evidence import EvidencePaths, record_signoff

    config = load(args)
    try:
        event = record_signoff(
            config,
            args.role,
            args.name,
            args.note or "",
            args.verdict,
            EvidencePaths(Path(args.evidence_dir).expanduser()),
        )
    except ValueError as exc:
        return fail(str(exc))
    print(
        f"sign-off recorded: {event.role} = {event.name} {event.verdict} at "
        f"{event.ts_init.isoformat()} for evidence version {event.evidence_hash[:12]}"
    )
    return 0
