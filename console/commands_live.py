"""`deskgate probe` (read-only account check, gate 6) and `deskgate rollback` (incident report)."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts.config import Config
from contracts.enums import Mode
from engine.gates import GateEvidence, gate_account, permissions_from_tags
from engine.results import CommandResult
from engine.rollback import rollback_and_report

EMBEDDED_ACCOUNT = "DU1234567"


# --- probe ----------------------------------------------------------------------------------


def probe_record(result: Any, config: Config, now: datetime) -> dict[str, Any]:
    """The ACCOUNT_CONFIG.json content from a `broker.ibkr.probe.ProbeResult`."""
    acct = result.account
    return {
        "timestamp": now.isoformat(),
        "connected": True,
        "host": result.host,
        "port": result.port,
        "server_version": result.server_version,
        "managed_accounts": list(result.managed_accounts),
        "account_id": acct.account_id,
        "account_type": "PAPER" if acct.is_paper else "LIVE",
        "ib_account_type": result.account_type,
        "currency": acct.currency,
        "nav": _s(acct.net_liquidation),
        "cash": _s(acct.cash),
        "buying_power": _s(acct.buying_power),
        "available_funds": _s(acct.available_funds),
        "margin_cushion": _s(acct.cushion),
        "permissions": permissions_from_tags(result.permissions),
        "permission_tags": dict(result.permissions),
        "limits": _limits(config),
    }


def failed_probe_record(error: str, config: Config, now: datetime) -> dict[str, Any]:
    return {
        "timestamp": now.isoformat(),
        "connected": False,
        "error": error,
        "host": config.broker.host,
        "port": config.broker.port,
        "limits": _limits(config),
    }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _limits(config: Config) -> dict[str, Any]:
    return {
        "mode": config.mode.value,
        "account": config.account,
        "risk": json.loads(config.risk.model_dump_json()),
        "kill": json.loads(config.kill.model_dump_json()),
        "scale": json.loads(config.scale.model_dump_json()),
        "required_permissions": list(config.golive.required_permissions),
    }


async def run_probe(config: Config) -> dict[str, Any]:
    """Probe the configured broker read-only (an embedded gateway when port is 0)."""
    from broker.ibkr.probe import probe
    from console.compose import StartupRefused, live_confirmation
    from engine.ports import BrokerUnavailable

    now = datetime.now(UTC)
    try:
        live = live_confirmation(config)
    except StartupRefused as exc:
        return failed_probe_record(str(exc), config, now)
    b = config.broker
    try:
        if b.kind in ("sim", "gateway") and b.port == 0:
            from broker.gateway.testing import running_gateway

            async with running_gateway(b.seed, b.chaos, EMBEDDED_ACCOUNT) as gw:
                result = await probe(
                    "127.0.0.1", gw.port, b.client_id, timeout_s=b.connect_timeout_s
                )
        else:
            result = await probe(
                b.host,
                b.port or 4002,
                b.client_id,
                account=config.account or None,
                live_confirmed_account=live,
                timeout_s=b.connect_timeout_s,
            )
    except (BrokerUnavailable, OSError, TimeoutError, ConnectionError) as exc:
        return failed_probe_record(f"{type(exc).__name__}: {exc}", config, now)
    return probe_record(result, config, now)


def cmd_probe(args: argparse.Namespace) -> int:
    from console.cli import _load
    from console.golive import read_account

    config = _load(args)
    record = asyncio.run(run_probe(config))
    out = Path(args.out).expanduser()
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    account = read_account(out, config)
    gate = gate_account(GateEvidence(account=account), config.golive)
    for key in ("account_id", "account_type", "nav", "cash", "buying_power", "margin_cushion"):
        print(f"{key:>15}: {record.get(key)}")
    print(f"{'permissions':>15}: {record.get('permissions', {})}")
    print(f"wrote {out}")
    print(f"gate 6 account: {gate.verdict.value}: {gate.detail}")
    return 0 if gate.verdict.value == "PASS" else 1


# --- rollback -------------------------------------------------------------------------------


def cmd_rollback(args: argparse.Namespace) -> int:
    from console.cli import _fail, _load
    from console.compose import StartupRefused, build_session

    config = _load(args)
    if not args.reason.strip():
        return _fail("a rollback needs --reason")
    try:
        session = build_session(config, demo=False)
    except StartupRefused as exc:
        return _fail(str(exc))
    out_dir = Path(args.out_dir).expanduser()

    async def run() -> tuple[CommandResult, Path | None]:
        await session.start_venue()
        await session.engine.start()
        try:
            return await rollback_and_report(session.engine, args.reason, args.actor, out_dir)
        finally:
            await session.close()

    result, path = asyncio.run(run())
    print(result.message)
    if path:
        print(f"wrote {path}")
    if config.mode is Mode.LIVE and not result.ok:
        print("LIVE account not verified flat: check the broker now.")
    return 0 if result.ok else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from console.cli import _console_options

    p = sub.add_parser("probe", help="read-only account check (gate 6); writes ACCOUNT_CONFIG.json")
    _console_options(p)
    p.add_argument("--out", default="ACCOUNT_CONFIG.json", help="where to write the record")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser(
        "rollback", help="cancel all, flatten, verify flat and NAV; write an incident report"
    )
    _console_options(p)
    p.add_argument("--reason", required=True, help="why (recorded in the audit log)")
    p.add_argument("--actor", default="trader", help="who (default: trader)")
    p.add_argument("--out-dir", default=".", help="where INCIDENT_<time>.md goes")
    p.set_defaults(func=cmd_rollback)
