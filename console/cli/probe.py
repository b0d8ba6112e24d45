"""`deskgate probe`: read-only account check (gate 6); writes ACCOUNT_CONFIG.json."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.cli.options import BROKER, SubParsers, add_common, load

if TYPE_CHECKING:  # the domain loads when the verb runs, not when the parser is built
    from contracts.config import Config

EMBEDDED_ACCOUNT = "DU1234567"


def register(sub: SubParsers) -> None:
    p = sub.add_parser("probe", help="read-only account check (gate 6); writes ACCOUNT_CONFIG.json")
    add_common(p, BROKER, verb="probe")
    p.add_argument("--out", default="ACCOUNT_CONFIG.json", help="where to write the record")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from console.cli.live import confirm_live_account
    from engine.gates import GateEvidence, gate_account
    from engine.golive_evidence import read_account

    config = load(args)
    confirm_live_account(config)
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


def probe_record(result: Any, config: Config, now: datetime) -> dict[str, Any]:
    """The ACCOUNT_CONFIG.json content from a `broker.ibkr.probe.ProbeResult`."""
    from engine.gates import permissions_from_tags

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
    """The ACCOUNT_CONFIG.json content when the probe could not connect."""
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
