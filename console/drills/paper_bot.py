"""`deskgate paper --strategies K1,...`: the K1–K5 bot headless in the paper drill.

Policy (who approves a headless bot's intents):
* sim or paper only: a config in live mode, or a broker that reports a live account, is
  refused with a one-line error and nothing is sent;
* every intent the bot proposes still goes through the token approval: the engine issues a
  token, and the paper-drill approver redeems it through `Engine.approve`, where the same
  risk checks run again at submit; nothing bypasses the approval path;
* the approver is an explicit actor, `paper-drill approver`: it is named in every approval
  bead (TOKEN_USED.actor), and the drill records its policy (AUTO_APPROVE_POLICY bead) before
  the first approval; it approves only intents from the bot's own sources (`strategy`, and
  `strategy_exit` when `[strategy].exits_need_approval` is set), never the trader's or another
  source's, and never silently (each approval is counted and written to the summary).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.config import Config
from contracts.enums import LifecycleState, Mode
from contracts.events import AutoApprovePolicySet, StrategyRecorded, TokenIssued, TokenUsed
from engine.intake import Propose
from engine.ports import BrokerUnavailable

APPROVER = "paper-drill approver"
POLICY_NAME = "paper-drill-bot/v1"
BOT_SOURCES = frozenset({"strategy", "strategy_exit"})
SUMMARY_FILE = "PAPER_BOT_SUMMARY.json"
ACCOUNT_WAIT_S = 10.0
"""How long the drill waits for the broker's account before the live-account check."""


def refuse_live(config: Config) -> None:
    """The drill's first rule: never a live account."""
    if config.mode is Mode.LIVE:
        raise ValueError(
            "deskgate paper --strategies runs in sim or paper mode only, never on a live account"
        )


def bot_config(config: Config) -> Config:
    """The drill's config: the configured one (sim or paper), without the demo or plugins."""
    refuse_live(config)
    return config.model_copy(
        update={"intake": config.intake.model_copy(update={"demo": False, "plugins": []})}
    )


@dataclass
class DrillApprover:
    """An intent source that proposes nothing: it approves the bot's pending intents with the
    token the engine issued for each, as the named paper-drill approver (module docstring)."""

    symbols: tuple[str, ...]
    max_trades: int
    approved: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """'<intent id>: <why>' for each approval the engine refused (a risk check at submit)."""
    cleared: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the drill has checked the account is not live: nothing is approved before."""
    error: str = ""

    async def __call__(self, propose: Propose, context: Any) -> None:
        """The StrategyPlugin entry point; `context` is the engine."""
        engine = context
        sub = engine.bus.subscribe(10_000)
        try:
            now = engine.clock.now()
            recorded = engine.golive.record_auto_approve_policy(
                AutoApprovePolicySet(
                    ts_event=now,
                    ts_init=now,
                    policy=POLICY_NAME,
                    mode=engine.config.mode.value,
                    symbols=self.symbols,
                    max_trades=self.max_trades,
                    risk_overrides={},
                    reason=(
                        f"paper drill: the bot's intents are approved by '{APPROVER}' through "
                        "their tokens, with the configured risk limits"
                    ),
                )
            )
            if not recorded.ok:
                self.error = recorded.message
                return
            await self.cleared.wait()
            for rec in list(engine.book.records.values()):  # offered before the drill started
                if rec.state is LifecycleState.PROPOSED:
                    await self._approve(engine, rec.intent.intent_id)
            while True:
                item = await sub.get()
                if isinstance(item, TokenIssued):
                    await self._approve(engine, item.intent_id)
        finally:
            sub.close()

    async def _approve(self, engine: Any, intent_id: str) -> None:
        rec = engine.book.records.get(intent_id)
        if rec is None or rec.source not in BOT_SOURCES:
            return
        token = engine.pending_token(intent_id)
        if token is None:
            return
        result = await engine.approve(intent_id, token, actor=APPROVER)
        if result.ok:
            self.approved.append(intent_id)
        else:
            self.refused.append(f"{intent_id}: {result.message}")


@dataclass
class BotDrillResult:
    summary_path: Path
    data_dir: Path
    approved: int
    refused: int
    journal_lines: int
    trades: int


async def run_paper_bot(
    config: Config,
    plugin: Any,
    duration_s: float,
    out_dir: Path,
    *,
    account_wait_s: float = ACCOUNT_WAIT_S,
) -> BotDrillResult:
    """Run the bot (`plugin`, from `engine.strategy.plugin.make_plugin`) for `duration_s`
    seconds against the configured broker, approved by the paper-drill approver; then close
    what is open (flatten, actor 'paper-drill') and write PAPER_BOT_SUMMARY.json."""
    from console.compose import build_session

    bconfig = bot_config(config)
    start = datetime.now(UTC)
    data_dir = config.resolved_data_dir() / "paper-bot" / f"{start:%Y%m%d-%H%M%S}"
    approver = DrillApprover(tuple(plugin.config.symbols), bconfig.risk.max_trades_per_day)
    session = build_session(bconfig, data_dir=data_dir, demo=False, sources=[plugin, approver])
    engine = session.engine
    try:
        await session.start_venue()
        await engine.start()
        await _refuse_a_live_account(engine, account_wait_s)
        approver.cleared.set()
        await asyncio.sleep(duration_s)  # the drill's length, not a synchronisation
        if any(p.quantity != 0 for p in engine.book.positions.values()):
            await engine.flatten("paper drill end", actor="paper-drill")
        engine.store.flush()
        events = list(engine.store.events())
    finally:
        await session.close()
    uses = [e for e in events if isinstance(e, TokenUsed)]
    kinds = [e.record.get("kind") for e in events if isinstance(e, StrategyRecorded)]
    journal = kinds.count("STRATEGY_DECISION")
    trades = kinds.count("STRATEGY_TRADE")
    summary = {
        "policy": POLICY_NAME,
        "approver": APPROVER,
        "mode": bconfig.mode.value,
        "broker": bconfig.broker.kind,
        "strategies": list(plugin.config.enabled),
        "symbols": list(plugin.config.symbols),
        "start_time": start.isoformat(),
        "end_time": datetime.now(UTC).isoformat(),
        "approvals": len(approver.approved),
        "approvals_by_actor": {a: sum(u.actor == a for u in uses) for a in {u.actor for u in uses}},
        "refused_at_submit": approver.refused,
        "journal_lines": journal,
        "trades": trades,
        "data_dir": str(data_dir),
    }
    path = await asyncio.to_thread(_write_summary, out_dir, summary)
    return BotDrillResult(
        path, data_dir, len(approver.approved), len(approver.refused), journal, trades
    )


def _write_summary(out_dir: Path, summary: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


async def _refuse_a_live_account(engine: Any, wait_s: float) -> None:
    """A paper config pointed at a live account: stop before anything is approved."""
    try:
        account = await asyncio.wait_for(engine.broker.account(), wait_s)
    except (BrokerUnavailable, TimeoutError) as exc:
        raise ValueError(f"paper drill: cannot read the broker's account: {exc}") from None
    if not account.is_paper:
        await engine.kill("paper drill on a live account", actor="paper-drill")
        raise ValueError(
            f"the broker reports a live account ({account.account_id[:2]}…): "
            "deskgate paper --strategies never runs live"
        )
