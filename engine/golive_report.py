"""GO_LIVE_DECISION.md and the terminal table: the gates, the decision, the signatures block."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from contracts.config import GoLiveConfig
from engine.gates import GateEvidence, GateResult, GoLiveDecision


def render_table(results: Sequence[GateResult]) -> str:
    """A plain-text table for the terminal."""
    lines = [f"{'#':>2}  {'gate':<18} {'verdict':<8} detail"]
    for g in results:
        lines.append(f"{g.number:>2}  {g.name:<18} {g.verdict.value:<8} {g.detail}")
        for key, value in g.numbers:
            lines.append(f"{'':>4}{'':<18} {'':<8}   {key}: {value}")
    return "\n".join(lines)


def render_markdown(
    results: Sequence[GateResult],
    decision: GoLiveDecision,
    generated_at: datetime,
    evidence: GateEvidence | None = None,
    cfg: GoLiveConfig | None = None,
) -> str:
    """GO_LIVE_DECISION.md: the decision, why, every gate with its numbers, the signatures."""
    out = [
        "# Go-live decision",
        "",
        f"**Decision: {decision.decision.value}**"
        + (f" ({decision.reason})" if decision.reason else ""),
        "",
        f"Generated {generated_at.isoformat(timespec='seconds')} by `deskgate gates` from "
        "recorded evidence (reports, probe file, paper metrics, audit beads).",
        "",
    ]
    if decision.failing:
        out += ["## Failing gates", ""]
        for g in decision.failing:
            out.append(f"* Gate {g.number} ({g.name}): {g.detail}")
            out.append(f"  * Action: {g.action}")
        out.append("")
    if decision.open_requirements:
        out += ["## Open requirements", ""]
        out += [f"* {req}" for req in decision.open_requirements]
        out.append("")
    out += ["## Gates", "", "| # | gate | verdict | detail |", "| --- | --- | --- | --- |"]
    for g in results:
        detail = g.detail.replace("|", "\\|")
        out.append(f"| {g.number} | {g.name} | {g.verdict.value} | {detail} |")
    out += ["", "## Numbers", ""]
    for g in results:
        if g.numbers:
            out.append(f"* Gate {g.number} ({g.name}): "
                       + "; ".join(f"{k} {v}" for k, v in g.numbers))  # fmt: skip
    out.append("")
    out += render_signatures(evidence or GateEvidence(), cfg or GoLiveConfig())
    return "\n".join(out)


def render_signatures(ev: GateEvidence, cfg: GoLiveConfig) -> list[str]:
    """Seed 001's signatures block: name, role, date, verdict per signer, and whether the
    sign-off is for the evidence judged here (a sign-off on older evidence does not count)."""
    version = ev.evidence_hash or "n/a"
    out = [
        "## Signatures",
        "",
        f"Evidence version `{version}` (sha256 of the evidence files). A sign-off counts only "
        "for this version: `deskgate signoff --role ROLE --name NAME --verdict APPROVE|REJECT`.",
        "",
        "| role | name | date | verdict | evidence | counts |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    latest = {s.role: s for s in ev.signoffs}
    for role in cfg.signoff_roles:
        s = latest.get(role)
        if s is None:
            out.append(f"| {role} | __________ | __________ | PENDING | - | no |")
            continue
        current = s.evidence_hash == ev.evidence_hash
        signed = "current" if current else f"older `{s.evidence_hash[:12] or 'none'}`"
        counts = "yes" if current and s.verdict == "APPROVE" else "no"
        name = s.name.replace("|", "/")
        date = f"{s.ts.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        out.append(f"| {role} | {name} | {date} | {s.verdict} | {signed} | {counts} |")
    out.append("")
    return out
