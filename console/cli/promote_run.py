"""What `deskgate promote` runs: the evidence bundle, the vetoes and the typed T2 approval."""

from __future__ import annotations

import argparse
import getpass
import io
from pathlib import Path

from rich.console import Console
from rich.table import Table

from console.cli.fill_report_run import newest_store
from console.cli.options import fail, load
from console.cli.promote import SHADOW_FILE
from engine.audit import AuditStore
from engine.instance_lock import EngineAlreadyRunning, InstanceLock
from engine.promotion import EvidenceBundle
from engine.promotion_ceremony import EvidenceError, PromotionCeremony, read_shadow_sessions


def bundle_table(bundle: EvidenceBundle) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None, highlight=False)
    table = Table(title=f"evidence bundle: {bundle.strategy}", show_edge=False)
    table.add_column("item")
    table.add_column("value")
    for key, value in bundle.summary().items():
        table.add_row(key, value or "-")
    console.print(table)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def run(args: argparse.Namespace) -> int:
    config = load(args)
    data_dir = config.resolved_data_dir()
    evidence = Path(args.evidence).expanduser() if args.evidence else data_dir / SHADOW_FILE
    try:
        if args.evidence or evidence.exists():
            bundle = read_shadow_sessions(evidence, args.strategy)
        else:  # no shadow session recorded yet: the ceremony refuses it, on the record
            bundle = EvidenceBundle(args.strategy, ())
    except EvidenceError as exc:
        return fail(str(exc))
    path = Path(args.file).expanduser() if args.file else newest_store(data_dir)
    lock = InstanceLock(data_dir)
    try:
        lock.acquire()
    except EngineAlreadyRunning as exc:
        return fail(f"{exc}; stop the console before a promotion")
    try:
        store = AuditStore(path)
        try:
            return _ceremony(PromotionCeremony(config, store), bundle, args)
        finally:
            store.close()
    finally:
        lock.release()


def _ceremony(ceremony: PromotionCeremony, bundle: EvidenceBundle, args: argparse.Namespace) -> int:
    print(bundle_table(bundle), end="")
    requester = (args.requester or getpass.getuser()).strip()
    result, token = ceremony.request(bundle, requester)
    if token is None:
        print(f"REFUSED: {result.message}")
        return 1
    print(f"requested by {requester}; a T2 approval by someone else is needed")
    approver = (args.approver or input("T2 approver name: ")).strip()
    typed = input(f"type {bundle.strategy} to approve its promotion to LIVE: ").strip()
    if typed != bundle.strategy:
        ceremony.refuse(bundle.strategy, approver, ("typed confirmation did not match",))
        print("REFUSED: typed confirmation did not match; nothing promoted")
        return 1
    outcome = ceremony.approve(bundle, token, requester, approver)
    print(("APPROVED: " if outcome.ok else "REFUSED: ") + outcome.message)
    return 0 if outcome.ok else 1
