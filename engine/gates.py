"""Go-live gates: pure functions of recorded evidence, each PASS / PENDING / FAIL with numbers.

Evidence is read from recorded files and audit beads by engine/golive_evidence.py; here it is
only judged. Missing evidence is PENDING with what is missing named, never a PASS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from contracts.config import GoLiveConfig


class Verdict(StrEnum):
    PASS = "PASS"
    PENDING = "PENDING"
    FAIL = "FAIL"


class Decision(StrEnum):
    GO_LIVE_APPROVED = "GO_LIVE_APPROVED"
    CONDITIONAL = "CONDITIONAL"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict, a one-line detail, and the numbers behind it."""

    number: int
    name: str
    verdict: Verdict
    detail: str
    numbers: tuple[tuple[str, str], ...] = ()
    missing: tuple[str, ...] = ()
    """Evidence or requirements still open."""
    failures: tuple[str, ...] = ()
    """What failed (the verdict is FAIL when there is any)."""
    action: str = ""


# --- evidence ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageEvidence:
    percent: float
    source: str


@dataclass(frozen=True)
class FixturesEvidence:
    required: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class ArchitectureEvidence:
    """The import contracts' result (`lint-imports`, pyproject.toml [tool.importlinter])."""

    contracts_checked: int
    broken: tuple[str, ...]


@dataclass(frozen=True)
class InterfaceEvidence:
    operations: tuple[str, ...]
    unmapped_operations: tuple[str, ...]
    error_codes: tuple[int, ...]
    unmapped_error_codes: tuple[int, ...]


@dataclass(frozen=True)
class StageRun:
    tests: int
    failures: int = 0
    errors: int = 0
    skipped: int = 0

    @property
    def passed(self) -> int:
        return self.tests - self.failures - self.errors - self.skipped


@dataclass(frozen=True)
class SuiteEvidence:
    source: str
    stages: Mapping[str, StageRun]
    """Results per test stage (unit, integration, console, chaos, crash) from a JUnit report."""
    stage_files: Mapping[str, int] = field(default_factory=dict)
    """Test files found on disk per stage."""


@dataclass(frozen=True)
class AccountEvidence:
    """What `deskgate probe` recorded (ACCOUNT_CONFIG.json)."""

    connected: bool
    source: str
    timestamp: datetime | None = None
    error: str = ""
    account_id: str = ""
    account_type: str = ""
    """PAPER or LIVE, from the account."""
    expected_type: str = ""
    """PAPER or LIVE, from the config's mode."""
    nav: Decimal | None = None
    cash: Decimal | None = None
    buying_power: Decimal | None = None
    cushion: Decimal | None = None
    permissions: Mapping[str, bool | None] = field(default_factory=dict)
    """stocks / options / futures: True, False, or None when the API does not say."""


@dataclass(frozen=True)
class PaperEvidence:
    """What a paper validation session recorded (PAPER_TRADING_METRICS.csv)."""

    source: str
    duration_s: float
    trades: int
    fill_rate_pct: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    pacing_violations: int
    disconnects: int
    sharpe_paper: float | None
    sharpe_backtest: float | None
    latency_delta_pct: float | None
    backtest_source: str = ""
    """The BACKTEST_SUMMARY.json whose `sharpe_backtest` paper is judged against (empty: none)."""


@dataclass(frozen=True)
class SignOff:
    role: str
    name: str
    ts: datetime
    verdict: str = "APPROVE"
    """APPROVE or REJECT."""
    evidence_hash: str = ""
    """The evidence version signed; it counts only while the evidence is still that version."""


@dataclass(frozen=True)
class RollbackEvidence:
    verified: bool
    duration_s: float
    ts: datetime
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class KillEvidence:
    confirmed: bool
    ts: datetime


@dataclass(frozen=True)
class GateEvidence:
    """Everything the gates judge; None means not recorded yet."""

    coverage: CoverageEvidence | None = None
    fixtures: FixturesEvidence | None = None
    architecture: ArchitectureEvidence | None = None
    interface: InterfaceEvidence | None = None
    tests: SuiteEvidence | None = None
    account: AccountEvidence | None = None
    paper: PaperEvidence | None = None
    signoffs: tuple[SignOff, ...] = ()
    rollback: RollbackEvidence | None = None
    kill: KillEvidence | None = None
    evidence_hash: str = ""
    """The version of the evidence files judged (what a sign-off must name to count)."""


STAGES = ("integration", "console", "chaos", "crash")
"""Stage test suites gate 5 wants to exist and run (unit tests are gate 4)."""

ACTIONS = {
    1: "raise coverage / restore the fixtures, then re-measure: deskgate gates --measure",
    2: "fix the imports that break the listed contracts (run lint-imports), then re-measure",
    3: "implement the listed port operations / map the listed error codes in broker/ibkr",
    4: "fix the failing unit tests, then re-run: deskgate gates --measure",
    5: "write or fix the stage tests listed, then re-run: deskgate gates --measure",
    6: "fix the account or config mismatch named, then run: deskgate probe",
    7: "find the cause in PAPER_TRADING_LOG.json, fix it, and run another: deskgate paper",
    8: "complete the open requirements listed",
}


def _fmt(value: float | Decimal | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{float(value):.{digits}f}{unit}"


def _result(
    number: int,
    name: str,
    fails: Sequence[str],
    missing: Sequence[str],
    numbers: Sequence[tuple[str, str]],
    ok_detail: str,
) -> GateResult:
    if fails:
        verdict, detail, action = Verdict.FAIL, "; ".join(fails), ACTIONS[number]
    elif missing:
        verdict, detail = Verdict.PENDING, "missing: " + "; ".join(missing)
        action = "record the missing evidence"
    else:
        verdict, detail, action = Verdict.PASS, ok_detail, ""
    return GateResult(
        number, name, verdict, detail, tuple(numbers), tuple(missing), tuple(fails), action
    )


# --- the gates -----------------------------------------------------------------------------


def gate_artifacts(ev: GateEvidence, cfg: GoLiveConfig) -> GateResult:
    fails: list[str] = []
    missing: list[str] = []
    numbers: list[tuple[str, str]] = []
    if ev.coverage is None:
        missing.append("coverage report (deskgate gates --measure, or --coverage PATH)")
    else:
        numbers.append(("coverage", _fmt(ev.coverage.percent, "%", 1)))
        if ev.coverage.percent < cfg.min_coverage_pct:
            fails.append(f"coverage {ev.coverage.percent:.1f}% < {cfg.min_coverage_pct:g}%")
    if ev.fixtures is None:
        missing.append("fixture check (deskgate gates --measure)")
    else:
        numbers.append(
            ("fixtures", f"{len(ev.fixtures.required) - len(ev.fixtures.missing)}"
                         f"/{len(ev.fixtures.required)}")
        )  # fmt: skip
        fails.extend(f"fixture missing: {m}" for m in ev.fixtures.missing)
    cov = ev.coverage.percent if ev.coverage else 0.0
    return _result(
        1, "artifacts", fails, missing, numbers, f"coverage {cov:.1f}%, fixtures present"
    )


def gate_architecture(ev: GateEvidence, cfg: GoLiveConfig) -> GateResult:
    a = ev.architecture
    if a is None:
        return _result(
            2, "architecture", [], ["import contracts result (deskgate gates --measure)"], [], ""
        )
    numbers = [("contracts", str(a.contracts_checked)), ("broken", str(len(a.broken)))]
    fails = [f"import contract broken: {name}" for name in a.broken]
    missing = [] if a.contracts_checked else ["no import contracts were checked"]
    return _result(
        2, "architecture", fails, missing, numbers,
        f"{a.contracts_checked} import contracts kept",
    )  # fmt: skip


def gate_interface(ev: GateEvidence, cfg: GoLiveConfig) -> GateResult:
    i = ev.interface
    if i is None:
        return _result(
            3, "interface", [], ["broker interface scan (deskgate gates --measure)"], [], ""
        )
    numbers = [
        ("operations", f"{len(i.operations) - len(i.unmapped_operations)}/{len(i.operations)}"),
        ("error codes", f"{len(i.error_codes) - len(i.unmapped_error_codes)}"
                        f"/{len(i.error_codes)}"),
    ]  # fmt: skip
    fails = [f"operation not implemented: {op}" for op in i.unmapped_operations]
    fails += [f"error code not mapped: {code}" for code in i.unmapped_error_codes]
    missing = [] if i.operations and i.error_codes else ["no operations or codes found"]
    return _result(
        3, "interface", fails, missing, numbers,
        f"{len(i.operations)} operations, {len(i.error_codes)} error codes mapped",
    )  # fmt: skip


def gate_implementation(ev: GateEvidence, cfg: GoLiveConfig) -> GateResult:
    t = ev.tests
    run = t.stages.get("unit") if t else None
    if run is None or run.tests == 0:
        return _result(
            4, "implementation", [], ["unit test results (deskgate gates --measure / --junit)"],
            [], "",
        )  # fmt: skip
    numbers = [
        ("unit tests", str(run.tests)),
        ("failed", str(run.failures + run.errors)),
        ("skipped", str(run.skipped)),
    ]
    fails = [] if run.failures + run.errors == 0 else [
        f"{run.failures + run.errors} of {run.tests} unit tests failed"
    ]  # fmt: skip
    return _result(4, "implementation", fails, [], numbers, f"{run.passed} unit tests pass")


def gate_stage_tests(ev: GateEvidence, cfg: GoLiveConfig) -> GateResult:
    t = ev.tests
    fails: list[str] = []
    missing: list[str] = []
    numbers: list[tuple[str, str]] = []
    for stage in STAGES:
        files = t.stage_files.get(stage) if t else None
        run = t.stages.get(stage) if t else None
        if files is not None and files == 0:
            fails.append(f"no {stage} tests (tests/{stage}/)")
            continue
        if run is None or run.tests == 0:
            missing.append(f"{stage} test results")
            continue
        numbers.append((stage, f"{run.passed}/{run.tests}"))
        if run.failures + run.errors:
            fails.append(f"{run.failures + run.errors} {stage} tests failed")
    if t is None:
        missing = ["stage test results (deskgate gates --measure / --junit)"]
    return _result(5, "stage tests", fails, missing, numbers, "every stage has tests and they pass")


def gate_account(ev: GateEvidence, cfg: GoLiveConfig) -> GateResult:
    a = ev.account
    if a is None:
        return _result(6, "account", [], ["account probe (deskgate probe)"], [], "")
    if not a.connected:
        return _result(6, "account", [f"probe could not connect: {a.error}"], [], [], "")
    numbers = [
        ("account", a.account_id or "n/a"),
        ("type", a.account_type or "n/a"),
        ("NAV", _fmt(a.nav)),
        ("buying power", _fmt(a.buying_power)),
        ("cushion", _fmt(a.cushion, digits=3)),
        ("permissions", ", ".join(f"{k}={_yes(v)}" for k, v in sorted(a.permissions.items()))),
    ]
    fails: list[str] = []
    missing: list[str] = []
    if not a.account_id or a.nav is None:
        fails.append("no account metadata came back (account id / NAV)")
    if a.buying_power is None or a.buying_power <= 0:
        fails.append(f"buying power {_fmt(a.buying_power)} is not > 0")
    if a.expected_type and a.account_type != a.expected_type:
        fails.append(f"account type {a.account_type or 'unknown'} != config {a.expected_type}")
    for perm in cfg.required_permissions:
        have = a.permissions.get(perm)
        if have is False:
            fails.append(f"permission {perm}: config requires it, the account lacks it")
        elif have is None:
            missing.append(f"permission {perm}: not revealed by the API")
    return _result(
        6, "account", fails, missing, numbers,
        f"{a.account_id} {a.account_type}, buying power {_fmt(a.buying_power)}, "
        f"permissions match ({', '.join(cfg.required_permissions)})",
    )  # fmt: skip


def _yes(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def gate_paper(ev: GateEvidence, cfg: GoLiveConfig) -> GateResult:
    p = ev.paper
    if p is None:
        return _result(7, "paper performance", [], ["paper session (deskgate paper)"], [], "")
    numbers = [
        ("trades", str(p.trades)),
        ("fill rate", _fmt(p.fill_rate_pct, "%", 1)),
        ("p50/p95/p99", f"{_fmt(p.latency_p50_ms, digits=1)}/{_fmt(p.latency_p95_ms, digits=1)}"
                        f"/{_fmt(p.latency_p99_ms, digits=1)} ms"),
        ("latency delta", _fmt(p.latency_delta_pct, "%", 1)),
        ("pacing violations", str(p.pacing_violations)),
        ("disconnects", str(p.disconnects)),
        ("Sharpe paper/backtest", f"{_fmt(p.sharpe_paper, digits=3)}"
                                  f"/{_fmt(p.sharpe_backtest, digits=3)} per trade"),
        ("backtest", p.backtest_source or "none found"),
    ]  # fmt: skip
    fails: list[str] = []
    missing: list[str] = []
    if p.trades == 0:
        fails.append("no trades in the paper session")
    if p.latency_delta_pct is None:
        missing.append("latency baseline on the simulated venue")
    elif p.latency_delta_pct >= cfg.max_latency_delta_pct:
        fails.append(f"latency delta {p.latency_delta_pct:.1f}% >= {cfg.max_latency_delta_pct:g}%")
    if p.latency_p95_ms is None:
        missing.append("latency p95")
    elif p.latency_p95_ms >= cfg.max_latency_p95_ms:
        fails.append(f"latency p95 {p.latency_p95_ms:.1f} ms >= {cfg.max_latency_p95_ms:g} ms")
    if p.disconnects > cfg.max_disconnects:
        fails.append(f"{p.disconnects} disconnects (max {cfg.max_disconnects})")
    if p.pacing_violations > cfg.max_pacing_violations:
        fails.append(f"{p.pacing_violations} pacing violations (max {cfg.max_pacing_violations})")
    if p.fill_rate_pct is None:
        missing.append("fill rate (no orders submitted)")
    elif p.fill_rate_pct <= cfg.min_fill_rate_pct:
        fails.append(f"fill rate {p.fill_rate_pct:.1f}% not > {cfg.min_fill_rate_pct:g}%")
    if p.sharpe_backtest is None:
        missing.append(
            "Sharpe backtest (deskgate backtest --out DIR under the evidence or data dir; "
            "its BACKTEST_SUMMARY.json needs 2 closed trades with varying returns)"
            if not p.backtest_source else f"Sharpe backtest (undefined in {p.backtest_source})"
        )  # fmt: skip
    if p.sharpe_paper is None:
        missing.append("Sharpe paper (needs at least 2 closed round trips with varying returns)")
    if p.sharpe_backtest is not None and p.sharpe_backtest <= 0:
        fails.append(f"backtest Sharpe {p.sharpe_backtest:.3f} <= 0: no edge for paper to confirm")
    elif (
        p.sharpe_backtest is not None
        and p.sharpe_paper is not None
        and p.sharpe_paper < cfg.min_sharpe_vs_backtest * p.sharpe_backtest
    ):
        fails.append(
            f"paper Sharpe {p.sharpe_paper:.3f} < {cfg.min_sharpe_vs_backtest:g} x backtest "
            f"{p.sharpe_backtest:.3f}"
        )
    return _result(
        7, "paper performance", fails, missing, numbers,
        f"{p.trades} trades, fill {_fmt(p.fill_rate_pct, '%', 1)}, "
        f"p95 {_fmt(p.latency_p95_ms, ' ms', 1)}, "
        f"latency delta {_fmt(p.latency_delta_pct, '%', 1)}, no pacing violations, no disconnects",
    )  # fmt: skip


def gate_final(ev: GateEvidence, cfg: GoLiveConfig, previous: Sequence[GateResult]) -> GateResult:
    fails: list[str] = []
    missing: list[str] = []
    for g in previous:
        if g.verdict is Verdict.FAIL:
            fails.append(f"gate {g.number} {g.name} failed")
        elif g.verdict is Verdict.PENDING:
            missing.append(f"gate {g.number} {g.name} pending")
    signed = {s.role: s for s in ev.signoffs if s.evidence_hash == ev.evidence_hash}
    for role in cfg.signoff_roles:
        s = signed.get(role)
        if s is None:
            stale = any(o.role == role for o in ev.signoffs)
            missing.append(
                f"sign-off: {role} ("
                + ("signed older evidence, sign again: " if stale else "")
                + f"deskgate signoff --role {role} --name ... --verdict APPROVE)"
            )
        elif s.verdict != "APPROVE":
            fails.append(f"sign-off: {role} {s.name} voted {s.verdict}")
    r = ev.rollback
    if r is None:
        missing.append("rollback verified (deskgate rollback --reason ...)")
    elif not r.verified:
        fails.append("last rollback not verified: " + "; ".join(r.problems or ("unverified",)))
    elif r.duration_s > cfg.max_rollback_s:
        fails.append(f"rollback took {r.duration_s:.1f}s (target < {cfg.max_rollback_s:g}s)")
    k = ev.kill
    if k is None:
        missing.append("kill switch verified (a kill confirmed by the broker)")
    elif not k.confirmed:
        fails.append("kill switch never confirmed by the broker")
    numbers = [
        ("gates passed", f"{sum(g.verdict is Verdict.PASS for g in previous)}/{len(previous)}"),
        ("sign-offs", ", ".join(f"{s.role}={s.name} {s.verdict}" for s in signed.values())
                      or "none"),
        ("rollback", "n/a" if r is None else f"{'verified' if r.verified else 'FAILED'} "
                                             f"in {r.duration_s:.1f}s"),
        ("kill", "n/a" if k is None else ("confirmed" if k.confirmed else "unconfirmed")),
    ]  # fmt: skip
    return _result(
        8, "go-live", fails, missing, numbers,
        "all gates pass, sign-offs recorded, rollback and kill switch verified",
    )  # fmt: skip


def evaluate(evidence: GateEvidence, cfg: GoLiveConfig | None = None) -> tuple[GateResult, ...]:
    """All eight gates, in order."""
    cfg = cfg or GoLiveConfig()
    first = [
        gate_artifacts(evidence, cfg),
        gate_architecture(evidence, cfg),
        gate_interface(evidence, cfg),
        gate_implementation(evidence, cfg),
        gate_stage_tests(evidence, cfg),
        gate_account(evidence, cfg),
        gate_paper(evidence, cfg),
    ]
    return (*first, gate_final(evidence, cfg, first))


@dataclass(frozen=True)
class GoLiveDecision:
    decision: Decision
    open_requirements: tuple[str, ...]
    failing: tuple[GateResult, ...]
    reason: str = ""


def decide(results: Sequence[GateResult]) -> GoLiveDecision:
    """Seed 001's logic: APPROVED when all pass; REJECTED when any fails; CONDITIONAL when
    most gates pass and the rest are only pending; otherwise (no evidence at all, or too
    little) REJECTED, insufficient gates passed."""
    failing = tuple(g for g in results if g.verdict is Verdict.FAIL)
    open_reqs = tuple(
        f"gate {g.number} {g.name}: {m}"
        for g in results
        for m in g.missing
        if not (g.number == 8 and m.startswith("gate "))
    )
    passed = sum(g.verdict is Verdict.PASS for g in results)
    if failing:
        return GoLiveDecision(Decision.REJECTED, open_reqs, failing, "a gate failed")
    if passed == len(results) and results:
        return GoLiveDecision(Decision.GO_LIVE_APPROVED, (), (), "every gate passed")
    if passed * 2 > len(results):
        return GoLiveDecision(
            Decision.CONDITIONAL, open_reqs, (), f"{passed}/{len(results)} gates passed"
        )
    return GoLiveDecision(
        Decision.REJECTED,
        open_reqs,
        (),
        f"insufficient gates passed ({passed}/{len(results)})",
    )


# --- permissions as far as the API reveals them ------------------------------------------------

PERMISSION_CLASSES = ("stocks", "options", "futures")


def permissions_from_tags(tags: Mapping[str, str]) -> dict[str, bool | None]:
    """stocks / options / futures from IB's TradingType-* and SegmentTitle-* account tags.

    IB reports e.g. TradingType-S = "STKNOPT" (stocks and options) and a SegmentTitle-C for a
    commodities (futures) segment. Without any TradingType tag the API says nothing: None.
    """
    trading = {k: v.upper() for k, v in tags.items() if k.startswith("TradingType-")}
    if not trading:
        return dict.fromkeys(PERMISSION_CLASSES)
    values = " ".join(trading.values())
    futures = (
        "FUT" in values
        or "TradingType-C" in trading
        or any(k.startswith("SegmentTitle-C") for k in tags)
    )
    return {"stocks": "STK" in values, "options": "OPT" in values, "futures": futures}
