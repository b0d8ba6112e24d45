"""`deskgate chaos`: run the chaos vectors against the gateway and write the report."""

from __future__ import annotations

import argparse
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

    from console.cli.output import log_to_file, print_table, progress_bar
    from console.drills import chaos_suite as drill  # the chaos drill

    names = args.vector or None
    unknown = sorted(set(names or ()) - set(drill.VECTORS))
    if unknown:
        raise CliError(f"unknown vector {', '.join(unknown)}: one of {', '.join(drill.VECTORS)}")
    report = Path(args.report)
    log = log_to_file(report.with_suffix(".log"))
    with progress_bar() as progress:
        task = progress.add_task("chaos", total=len(names or drill.VECTORS), status="")

        def advance(result: drill.VectorResult) -> None:
            verdict = "PASS" if result.passed else "FAIL"
            progress.update(task, advance=1, status=f"{result.name} {verdict}")

        if args.data_dir:
            root = Path(args.data_dir).expanduser()
            results = asyncio.run(drill.run_all(root, names, advance))
        else:
            with tempfile.TemporaryDirectory(prefix="deskgate-chaos-") as tmp:
                results = asyncio.run(drill.run_all(Path(tmp), names, advance))
    report.write_text(drill.report_markdown(results), encoding="utf-8")
    print_table(
        "Chaos vectors",
        ("vector", "result", "figure", "seconds"),
        ((r.name, "PASS" if r.passed else "FAIL", r.figure, f"{r.seconds:.1f}") for r in results),
    )
    print(f"report written to {report}; library log in {log}")
    return 0 if all(r.passed for r in results) else 1
