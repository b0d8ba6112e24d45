"""`deskgate chaos`: run the chaos vectors against the gateway and write the report."""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from console.cli.options import CliError, SubParsers, add_common


def register(sub: SubParsers) -> None:
    p = sub.add_parser("chaos", help="run the chaos suite against the gateway")
    add_common(p, ("data_dir",), verb="chaos")
    p.add_argument("--report", default="CHAOS_REPORT.md", help="where to write the report")
    p.add_argument("--vector", action="append", help="only this vector (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from console.drills import chaos as drill

    names = args.vector or None
    unknown = sorted(set(names or ()) - set(drill.VECTORS))
    if unknown:
        raise CliError(f"unknown vector {', '.join(unknown)}: one of {', '.join(drill.VECTORS)}")
    logging.disable(logging.WARNING)
    if args.data_dir:
        results = asyncio.run(drill.run_all(Path(args.data_dir).expanduser(), names))
    else:
        with tempfile.TemporaryDirectory(prefix="deskgate-chaos-") as tmp:
            results = asyncio.run(drill.run_all(Path(tmp), names))
    Path(args.report).write_text(drill.report_markdown(results), encoding="utf-8")
    for r in results:
        print(f"{'PASS' if r.passed else 'FAIL'}  {r.title}: {r.figure}  ({r.seconds:.1f} s)")
    print(f"report written to {args.report}")
    return 0 if all(r.passed for r in results) else 1
