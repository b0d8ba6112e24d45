"""`deskgate audit verify|tail|export`: check, show or export the hash-chained audit log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from console.cli.options import AUDIT_LEVEL, FILES, CliError, SubParsers, add_common, fail, load

if TYPE_CHECKING:  # the domain loads when the verb runs, not when the parser is built
    from engine.audit import ReadOnlyStore


def register(sub: SubParsers) -> None:
    p = sub.add_parser("audit", help="verify, tail or export the audit log")
    add_common(p, FILES, prefix=AUDIT_LEVEL)
    _file_option(p, AUDIT_LEVEL)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check the hash chain; exit 1 on any problem")
    tail = actions.add_parser("tail", help="the newest beads")
    tail.add_argument("-n", type=int, default=20, help="how many (default 20)")
    export = actions.add_parser("export", help="every bead as JSON lines")
    export.add_argument("--out", help="file to write (default standard output)")
    for action in (verify, tail, export):
        add_common(action, FILES, verb=f"audit {action.prog.split()[-1]}")
        _file_option(action, "")
    p.set_defaults(func=run)


def _file_option(p: argparse.ArgumentParser, prefix: str) -> None:
    p.add_argument(
        "--file",
        dest=prefix + "file",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="the audit store (default: the newest under the data dir)",
    )


def _audit_file(args: argparse.Namespace) -> Path:
    from engine.audit import AuditUnavailable

    files: set[str] = {getattr(args, k) for k in (AUDIT_LEVEL + "file", "file") if hasattr(args, k)}
    if len(files) > 1:
        raise CliError(f"--file given twice with different values ({' and '.join(sorted(files))})")
    if files:
        return Path(files.pop()).expanduser()
    config = load(args)
    data_dir = config.resolved_data_dir()
    candidates = sorted(data_dir.rglob("*.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not candidates:
        raise AuditUnavailable(f"no audit store under {data_dir}")
    return candidates[0]


def run(args: argparse.Namespace) -> int:
    from engine.audit import AuditUnavailable, open_read_only

    try:
        path = _audit_file(args)
        if args.action == "verify":  # read-only: verify never writes to the store or beside it
            return _verify(path)
        store = open_read_only(path)
    except AuditUnavailable as exc:
        return fail(str(exc))
    try:
        if args.action == "tail":
            for row in store.tail(args.n):
                intent = row.intent_id or "-"
                print(f"{row.seq:>7} {row.ts} {row.kind:<18} {intent:<24} {row.hash[:12]}")
            return 0
        return _export(store, args.out)
    finally:
        store.close()


def _verify(path: Path) -> int:
    from engine.audit_verify import verify_store

    report = verify_store(path)
    for line in (*report.problems, *report.notes):
        print(line)
    verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    print(f"{path}: {report.checked} beads checked, hash chain {verdict}")
    return 0 if report.ok else 1


def _export(store: ReadOnlyStore, out_path: str | None) -> int:
    if out_path in (None, "-"):
        store.export_jsonl(sys.stdout)
        return 0
    with open(out_path, "w", encoding="utf-8") as out:
        n = store.export_jsonl(out)
    print(f"exported {n} beads to {out_path}")
    return 0
