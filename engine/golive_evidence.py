"""Go-live evidence read from recorded files and audit beads, judged by the gates; sign-offs.

Everything here reads what was recorded: the evidence files `deskgate gates --measure` writes
from a checkout (coverage, JUnit, the import contracts' result, the repository scan), the probe
file, the paper metrics and the audit stores. Nothing reads the installed package's own files
or looks outside the evidence dir and the data dir.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from contracts.config import Config
from contracts.enums import Mode
from contracts.events import (
    AuditedEvent,
    KillConfirmation,
    LiveOverride,
    RollbackCompleted,
    SignOffRecorded,
    parse_event,
)
from engine.audit import AuditStore
from engine.gates import (
    AccountEvidence,
    ArchitectureEvidence,
    CoverageEvidence,
    FixturesEvidence,
    GateEvidence,
    GateResult,
    InterfaceEvidence,
    KillEvidence,
    PaperEvidence,
    RollbackEvidence,
    SignOff,
    StageRun,
    SuiteEvidence,
    Verdict,
    evaluate,
)

ACCOUNT_FILE = "ACCOUNT_CONFIG.json"
METRICS_FILE = "PAPER_TRADING_METRICS.csv"
DECISION_FILE = "GO_LIVE_DECISION.md"
COVERAGE_FILE = "coverage.json"
JUNIT_FILE = "junit.xml"
IMPORT_CONTRACTS_FILE = "import-contracts.json"
"""`lint-imports`' result: contracts checked and the names of the broken ones (gate 2)."""
REPOSITORY_FILE = "repository.json"
PAPER_LOG_FILE = "PAPER_TRADING_LOG.json"
"""The checkout's scan: fixtures (gate 1), broker interface (gate 3), test files (gate 5)."""
BACKTEST_SUMMARY_FILE = "BACKTEST_SUMMARY.json"
"""What `deskgate backtest --out DIR` writes; gate 7's Sharpe baseline is its sharpe_backtest."""
BACKTEST_SEARCH = (
    BACKTEST_SUMMARY_FILE,
    f"*/{BACKTEST_SUMMARY_FILE}",
    f"*/*/{BACKTEST_SUMMARY_FILE}",
)
"""Where a summary is looked for under the evidence dir and the data dir (two levels down)."""
GOVERNANCE_STORE = "governance.sqlite"
EVIDENCE_KINDS = ("SIGNOFF", "ROLLBACK_COMPLETED", "KILL_CONFIRMATION", "LIVE_OVERRIDE")


@dataclass(frozen=True)
class EvidencePaths:
    """Where the evidence files are; defaults are in `evidence_dir`."""

    evidence_dir: Path
    coverage: Path | None = None
    junit: Path | None = None

    @property
    def coverage_file(self) -> Path:
        return self.coverage or self.evidence_dir / COVERAGE_FILE

    @property
    def junit_file(self) -> Path:
        return self.junit or self.evidence_dir / JUNIT_FILE

    def file(self, name: str) -> Path:
        return self.evidence_dir / name

    def evidence_files(self) -> dict[str, Path]:
        """Every file the gates judge, by a stable label (what a sign-off is bound to)."""
        return {
            "coverage": self.coverage_file,
            "junit": self.junit_file,
            **{
                name: self.file(name)
                for name in (
                    ACCOUNT_FILE,
                    METRICS_FILE,
                    PAPER_LOG_FILE,
                    IMPORT_CONTRACTS_FILE,
                    REPOSITORY_FILE,
                )
            },
        }


def evidence_version(paths: EvidencePaths, backtest: Path | None = None) -> str:
    """sha256 over the evidence files' labels and contents (absent files are skipped), and the
    backtest summary gate 7 compares against (`newest_backtest`), when there is one.

    Any change to the evidence gives a new version, so a sign-off made before it stops counting.
    """
    digest = hashlib.sha256()
    files = paths.evidence_files()
    if backtest is not None:
        files = {**files, "backtest": backtest}
    for label, path in sorted(files.items()):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        digest.update(label.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def _json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`; None when it is absent or not a JSON object."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _ints(value: object) -> tuple[int, ...]:
    return tuple(v for v in value if isinstance(v, int)) if isinstance(value, list) else ()


# --- gates 1, 3, 5: the checkout's coverage and scan -----------------------------------------


def read_coverage(path: Path) -> CoverageEvidence | None:
    """coverage.py's JSON report (totals.percent_covered), or a Cobertura XML (line-rate)."""
    if not path.exists():
        return None
    try:
        if path.suffix == ".xml":
            rate = ET.parse(path).getroot().get("line-rate")
            return CoverageEvidence(float(rate or 0) * 100, str(path))
        data = json.loads(path.read_text("utf-8"))
        return CoverageEvidence(float(data["totals"]["percent_covered"]), str(path))
    except (OSError, ValueError, KeyError, TypeError, ET.ParseError):
        return None


@dataclass(frozen=True)
class RepositoryScan:
    """What `deskgate gates --measure` found in the checkout (repository.json)."""

    fixtures: FixturesEvidence | None
    interface: InterfaceEvidence | None
    stage_files: Mapping[str, int]


def read_repository_scan(path: Path) -> RepositoryScan:
    """repository.json; a missing or unreadable file gives no evidence (PENDING)."""
    data = _json_object(path)
    if data is None:
        return RepositoryScan(None, None, {})
    fixtures = data.get("fixtures")
    interface = data.get("interface")
    stage_files = data.get("stage_files")
    return RepositoryScan(
        fixtures=FixturesEvidence(
            _strings(fixtures.get("required")), _strings(fixtures.get("missing"))
        )
        if isinstance(fixtures, dict)
        else None,
        interface=InterfaceEvidence(
            _strings(interface.get("operations")),
            _strings(interface.get("unmapped_operations")),
            _ints(interface.get("error_codes")),
            _ints(interface.get("unmapped_error_codes")),
        )
        if isinstance(interface, dict)
        else None,
        stage_files={str(k): v for k, v in stage_files.items() if isinstance(v, int)}
        if isinstance(stage_files, dict)
        else {},
    )


# --- gate 2: the import contracts ------------------------------------------------------------


def read_import_contracts(path: Path) -> ArchitectureEvidence | None:
    """import-contracts.json as written by `deskgate gates --measure` from `lint-imports`."""
    data = _json_object(path)
    if data is None or not isinstance(data.get("checked"), int):
        return None
    broken = _strings(data.get("broken"))
    if data.get("returncode") not in (0, None) and not broken:
        broken = (f"lint-imports failed: {str(data.get('error', 'no contracts result'))[:200]}",)
    return ArchitectureEvidence(data["checked"], broken)


# --- gates 4, 5: test runs ------------------------------------------------------------------


def read_junit(path: Path, stage_files: Mapping[str, int] | None = None) -> SuiteEvidence | None:
    """Test counts per stage (tests/<stage>/...) from a pytest JUnit XML report."""
    if not path.exists():
        return None
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    counts: dict[str, list[int]] = {}
    for case in root.iter("testcase"):
        parts = (case.get("classname") or "").split(".")
        if len(parts) < 2 or parts[0] != "tests":
            continue
        c = counts.setdefault(parts[1], [0, 0, 0, 0])
        c[0] += 1
        c[1] += case.find("failure") is not None
        c[2] += case.find("error") is not None
        c[3] += case.find("skipped") is not None
    stages = {k: StageRun(*v) for k, v in counts.items()}
    return SuiteEvidence(str(path), stages, dict(stage_files or {}))


# --- gate 6: the account probe --------------------------------------------------------------


def _dec(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def read_account(path: Path, config: Config) -> AccountEvidence | None:
    """ACCOUNT_CONFIG.json as written by `deskgate probe`."""
    if not path.exists():
        return None
    data = _json_object(path)
    if data is None:
        return AccountEvidence(False, str(path), error="unreadable probe file")
    expected = "LIVE" if config.mode is Mode.LIVE else "PAPER"
    ts = data.get("timestamp")
    try:
        timestamp = datetime.fromisoformat(ts) if isinstance(ts, str) and ts else None
    except ValueError:
        return AccountEvidence(False, str(path), error=f"unreadable probe timestamp {ts!r}")
    permissions = data.get("permissions")
    return AccountEvidence(
        connected=bool(data.get("connected")),
        source=str(path),
        timestamp=timestamp,
        error=str(data.get("error", "")),
        account_id=str(data.get("account_id", "")),
        account_type=str(data.get("account_type", "")),
        expected_type=expected,
        nav=_dec(data.get("nav")),
        cash=_dec(data.get("cash")),
        buying_power=_dec(data.get("buying_power")),
        cushion=_dec(data.get("margin_cushion")),
        permissions={
            str(k): (v if isinstance(v, bool) else None)
            for k, v in (permissions.items() if isinstance(permissions, dict) else ())
        },
    )


# --- gate 7: paper metrics ------------------------------------------------------------------


def read_paper_metrics(path: Path) -> PaperEvidence | None:
    """PAPER_TRADING_METRICS.csv as written by `deskgate paper`."""
    if not path.exists():
        return None
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = {r["metric"]: r["value"] for r in csv.DictReader(fh)}
    except (OSError, KeyError, csv.Error):
        return None

    def num(key: str) -> float | None:
        value = rows.get(key, "")
        try:
            return float(value) if value not in ("", "n/a") else None
        except ValueError:
            return None

    return PaperEvidence(
        source=str(path),
        duration_s=num("duration") or 0.0,
        trades=int(num("trades") or 0),
        fill_rate_pct=num("fill_rate"),
        latency_p50_ms=num("latency_p50"),
        latency_p95_ms=num("latency_p95"),
        latency_p99_ms=num("latency_p99"),
        pacing_violations=int(num("pacing_violations") or 0),
        disconnects=int(num("disconnects") or 0),
        sharpe_paper=num("sharpe_paper"),
        sharpe_backtest=num("sharpe_backtest"),
        latency_delta_pct=num("latency_delta"),
    )


def newest_backtest(roots: Iterable[Path]) -> tuple[Path, float | None] | None:
    """The newest BACKTEST_SUMMARY.json (by modification time) under `roots`, with its
    `sharpe_backtest` (None when it has none or does not parse); None when there is none."""
    found: dict[Path, int] = {}
    for root in roots:
        for pattern in BACKTEST_SEARCH:
            for path in root.glob(pattern):
                with contextlib.suppress(OSError):
                    found[path.resolve()] = path.stat().st_mtime_ns
    if not found:
        return None
    path = max(found, key=lambda p: (found[p], str(p)))
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("sharpe_backtest")
    except (OSError, ValueError, AttributeError):
        return path, None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return path, float(value) if ok else None


def backtest_roots(config: Config, paths: EvidencePaths) -> tuple[Path, Path]:
    """Where gate 7 looks for backtest summaries: the evidence dir and the data dir."""
    return paths.evidence_dir, config.resolved_data_dir()


def with_backtest_baseline(
    paper: PaperEvidence | None, newest: tuple[Path, float | None] | None
) -> PaperEvidence | None:
    """Gate 7 judges paper against the newest backtest (`newest_backtest`), never the paper
    drill's own baseline run of its toy strategy (that run still gives the latency reference)."""
    if paper is None:
        return None
    if newest is None:
        return replace(paper, sharpe_backtest=None, backtest_source="")
    return replace(paper, sharpe_backtest=newest[1], backtest_source=str(newest[0]))


# --- gate 8: audit beads (sign-offs, rollbacks, kills) ---------------------------------------


def audit_stores(data_dir: Path) -> list[Path]:
    return sorted(data_dir.rglob("*.sqlite")) if data_dir.exists() else []


def evidence_events(paths: Iterable[Path]) -> list[AuditedEvent]:
    """Sign-off, rollback, kill-confirmation and live-override beads from every store, by time."""
    out: list[AuditedEvent] = []
    marks = ",".join("?" * len(EVIDENCE_KINDS))
    for path in paths:
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error:
            continue
        try:
            rows = conn.execute(
                f"SELECT payload FROM beads WHERE kind IN ({marks}) ORDER BY seq",
                EVIDENCE_KINDS,
            ).fetchall()
        except sqlite3.Error:
            rows = []
        finally:
            conn.close()
        for (payload,) in rows:
            try:
                out.append(parse_event(payload))
            except ValueError:
                continue
    out.sort(key=lambda e: e.ts_init)
    return out


def governance_evidence(
    events: Iterable[AuditedEvent],
) -> tuple[tuple[SignOff, ...], RollbackEvidence | None, KillEvidence | None]:
    """The latest sign-off per role, the latest rollback, the latest kill confirmation."""
    signoffs: dict[str, SignOff] = {}
    rollback: RollbackEvidence | None = None
    kill: KillEvidence | None = None
    for e in events:
        if isinstance(e, SignOffRecorded):
            signoffs[e.role] = SignOff(e.role, e.name, e.ts_init, e.verdict, e.evidence_hash)
        elif isinstance(e, RollbackCompleted):
            rollback = RollbackEvidence(e.verified, e.duration_s, e.ts_init, e.problems)
        elif isinstance(e, KillConfirmation) and e.confirmed:
            kill = KillEvidence(True, e.ts_init)
    return tuple(signoffs.values()), rollback, kill


# --- all of it ------------------------------------------------------------------------------


def load_evidence(config: Config, paths: EvidencePaths) -> GateEvidence:
    """Every gate's evidence from the evidence files and the data dir's audit stores."""
    signoffs, rollback, kill = governance_evidence(
        evidence_events(audit_stores(config.resolved_data_dir()))
    )
    scan = read_repository_scan(paths.file(REPOSITORY_FILE))
    newest = newest_backtest(backtest_roots(config, paths))
    return GateEvidence(
        coverage=read_coverage(paths.coverage_file),
        fixtures=scan.fixtures,
        architecture=read_import_contracts(paths.file(IMPORT_CONTRACTS_FILE)),
        interface=scan.interface,
        tests=read_junit(paths.junit_file, scan.stage_files),
        account=read_account(paths.file(ACCOUNT_FILE), config),
        paper=with_backtest_baseline(read_paper_metrics(paths.file(METRICS_FILE)), newest),
        signoffs=signoffs,
        rollback=rollback,
        kill=kill,
        evidence_hash=evidence_version(paths, newest[0] if newest else None),
    )


def gate_results(config: Config, paths: EvidencePaths | None = None) -> tuple[GateResult, ...]:
    """The eight gates for this config, from the evidence on disk (cwd by default)."""
    paths = paths or EvidencePaths(Path.cwd())
    return evaluate(load_evidence(config, paths), config.golive)


def gate8_passes(results: Iterable[GateResult]) -> bool:
    return any(g.number == 8 and g.verdict is Verdict.PASS for g in results)


def governance_store(config: Config) -> AuditStore:
    """The hash-chained store for sign-offs and live overrides (one per data dir)."""
    return AuditStore(config.resolved_data_dir() / GOVERNANCE_STORE)


def record_signoff(
    config: Config,
    role: str,
    name: str,
    note: str = "",
    verdict: str = "APPROVE",
    paths: EvidencePaths | None = None,
) -> SignOffRecorded:
    """Record a sign-off bound to the evidence version on disk now (cwd by default)."""
    role, name, verdict = role.strip(), name.strip(), verdict.strip().upper()
    if verdict not in ("APPROVE", "REJECT"):
        raise ValueError(f"verdict {verdict!r}: APPROVE or REJECT")
    if role not in config.golive.signoff_roles:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(config.golive.signoff_roles)}")
    if not name:
        raise ValueError("a sign-off needs the signer's name")
    paths = paths or EvidencePaths(Path.cwd())
    newest = newest_backtest(backtest_roots(config, paths))
    now = datetime.now(UTC)
    event = SignOffRecorded(
        ts_event=now,
        ts_init=now,
        role=role,
        name=name,
        note=note,
        verdict="APPROVE" if verdict == "APPROVE" else "REJECT",
        evidence_hash=evidence_version(paths, newest[0] if newest else None),
    )
    store = governance_store(config)
    try:
        store.append_durable(event)
    finally:
        store.close()
    return event


def record_live_override(
    config: Config, reason: str, actor: str, open_gates: tuple[str, ...]
) -> LiveOverride:
    reason = reason.strip()
    if not reason:
        raise ValueError("a live override needs a typed reason")
    now = datetime.now(UTC)
    event = LiveOverride(
        ts_event=now, ts_init=now, actor=actor, reason=reason, open_gates=open_gates
    )
    store = governance_store(config)
    try:
        store.append_durable(event)
    finally:
        store.close()
    return event


def live_start_check(
    config: Config, override_reason: str | None, actor: str, paths: EvidencePaths | None = None
) -> tuple[tuple[GateResult, ...], str | None]:
    """Gate results, and why live mode must not start (None: it may start).

    Live mode starts only when gate 8 passes, or with a typed override reason (audited).
    Other modes always start.
    """
    results = gate_results(config, paths)
    if config.mode is not Mode.LIVE or gate8_passes(results):
        return results, None
    open_gates = tuple(
        f"gate {g.number} {g.name}: {g.verdict.value}"
        for g in results
        if g.verdict is not Verdict.PASS
    )
    if override_reason and override_reason.strip():
        record_live_override(config, override_reason, actor, open_gates)
        return results, None
    return results, (
        "live mode refused: gate 8 (go-live) does not pass ("
        + "; ".join(open_gates)
        + "). Run `deskgate gates` for the details, or start with "
        "--override-gates 'REASON' (audited)."
    )
