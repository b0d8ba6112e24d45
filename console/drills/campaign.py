"""A paper campaign: N daily paper sessions, one log each, and a campaign summary file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.drills.paper import PaperPlan, PaperProgress, PaperResult, run_paper
from contracts.config import Config

CAMPAIGN_FILE = "PAPER_CAMPAIGN.json"
EVIDENCE_FILES = ("PAPER_TRADING_LOG.json", "PAPER_TRADING_METRICS.csv")


@dataclass(frozen=True)
class CampaignResult:
    summary_path: Path
    sessions: list[PaperResult]

    @property
    def passed(self) -> bool:
        return all(r.status != "FAIL" for s in self.sessions for r in s.metrics)


def session_dir(out_dir: Path, number: int) -> Path:
    return out_dir / f"session_{number:03d}"


def session_summary(result: PaperResult) -> dict[str, Any]:
    failed = [m.metric for m in result.metrics if m.status == "FAIL"]
    return {
        "session_id": result.session_id,
        "start_time": result.start_time.isoformat(),
        "end_time": result.end_time.isoformat(),
        "log": str(result.log_path),
        "metrics": {m.metric: m.value for m in result.metrics},
        "failed_metrics": failed,
        "verdict": "FAIL" if failed else "PASS",
        "rollback_verified": result.rollback_ok,
    }


async def run_campaign(
    config: Config,
    plan: PaperPlan,
    out_dir: Path,
    sessions: int,
    *,
    baseline: bool = True,
    rollback_at_end: bool = True,
    on_progress: Callable[[int, PaperProgress], None] | None = None,
) -> CampaignResult:
    """Run `sessions` paper sessions one after another, each in `session_NNN/`.

    Each session is a trading day of `plan.duration_s`, with its own seed (the plan's plus the
    day number) so the days differ. The newest session's log and metrics are copied to `out_dir`,
    where the go-live gates read them; PAPER_CAMPAIGN.json lists every session.
    """
    if sessions < 1:
        raise ValueError(f"--sessions must be at least 1, not {sessions}")
    results: list[PaperResult] = []
    started = datetime.now(UTC)
    for number in range(1, sessions + 1):
        day_plan = replace(plan, seed=plan.seed + number - 1)

        def report(state: PaperProgress, day: int = number) -> None:
            if on_progress is not None:
                on_progress(day, state)

        results.append(
            await run_paper(
                config,
                day_plan,
                session_dir(out_dir, number),
                baseline=baseline,
                rollback_at_end=rollback_at_end,
                progress=report,
                session_number=number,
            )
        )
    for name in EVIDENCE_FILES:
        shutil.copyfile(session_dir(out_dir, sessions) / name, out_dir / name)
    summary = {
        "campaign_start": started.isoformat(),
        "campaign_end": datetime.now(UTC).isoformat(),
        "sessions_planned": sessions,
        "sessions_passed": sum(not s["failed_metrics"] for s in map(session_summary, results)),
        "plan": {"duration_s": plan.duration_s, "trades": [plan.trades_min, plan.trades_max]},
        "sessions": [session_summary(r) for r in results],
    }
    path = out_dir / CAMPAIGN_FILE
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return CampaignResult(path, results)
