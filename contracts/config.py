"""The TOML config: its models (defaults are the risk constitution), loading and writing."""

from __future__ import annotations

import os
import re
import tomllib
from datetime import time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.base import Symbol
from contracts.enums import DEFAULT_MODE, ChaosMode, Mode
from contracts.strategy import StrategyConfig


class _Section(BaseModel):
    """No NaN or infinity anywhere; every number below has a finite upper bound."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


MONEY_CAP = Decimal("1e9")
"""No money limit in the config may exceed this (a typo of nine zeros is still refused)."""
DAY_S = 86_400.0
DAY_MIN = 1_440.0


class BrokerConfig(_Section):
    kind: str = Field(default="gateway", pattern=r"^(sim|gateway|ibkr)$")
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    client_id: int = Field(default=1, ge=0, lt=2**31)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=600)
    seed: int = Field(default=7, ge=0, lt=2**63)
    chaos: ChaosMode = ChaosMode.INSTANT


class RiskConfig(_Section):
    max_risk_per_trade: Decimal = Field(default=Decimal("15"), gt=0, le=MONEY_CAP)
    max_stop_ticks: int = Field(default=12, gt=0, le=100_000)
    require_stop: bool = True
    max_trades_per_day: int = Field(default=2, ge=0, le=100_000)
    daily_loss_limit: Decimal = Field(default=Decimal("30"), gt=0, le=MONEY_CAP)
    max_consecutive_losses: int = Field(default=2, gt=0, le=1_000)
    max_order_quantity: Decimal = Field(default=Decimal("500"), gt=0, le=MONEY_CAP)
    max_notional: Decimal = Field(default=Decimal("25000"), gt=0, le=MONEY_CAP)
    max_notional_futures: Decimal = Field(default=Decimal("150000"), gt=0, le=Decimal("5000000"))
    """Futures only (sec type FUT): a future is judged by risk to the stop and margin, and one
    MES is ~$28,500 notional. The default admits a few micros and no full-size ES (~$285,000)."""
    price_collar_pct: Decimal = Field(default=Decimal("2.0"), gt=0, le=100)
    quote_max_age_s: float = Field(default=10.0, gt=0, le=3_600)
    max_position: Decimal = Field(default=Decimal("500"), gt=0, le=MONEY_CAP)
    duplicate_window_s: float = Field(default=10.0, ge=0, le=DAY_S)
    max_orders_per_second: int = Field(default=45, gt=0, le=50)
    max_working_orders: int = Field(default=5, ge=1, le=20)
    """Working orders per contract and side (IB allows 20 per contract, side and account)."""


class TokenConfig(_Section):
    expiry_s: float = Field(default=300.0, gt=0, le=DAY_S)


class LifecycleConfig(_Section):
    stall_timeout_s: float = Field(default=60.0, gt=0, le=DAY_S)
    cancel_timeout_s: float = Field(default=10.0, gt=0, le=DAY_S)
    """A cancel unanswered this long makes the engine re-query the broker (PENDING_CANCEL)."""


class StaleConfig(_Section):
    ttl_normal_min: float = Field(default=30.0, gt=0, le=DAY_MIN)
    ttl_high_volatility_min: float = Field(default=15.0, gt=0, le=DAY_MIN)
    ttl_near_news_min: float = Field(default=10.0, gt=0, le=DAY_MIN)
    temporary_kill_min: float = Field(default=5.0, gt=0, le=DAY_MIN)
    threshold_min: float = Field(default=15.0, gt=0, le=DAY_MIN)
    """Data freshness shown in the console turns red past this age."""


class KillConfig(_Section):
    rollback_pnl_pct: Decimal = Field(default=Decimal("-5"), ge=-100, le=100)
    rollback_drawdown_pct: Decimal = Field(default=Decimal("15"), gt=0, le=100)
    max_pacing_violations_per_hour: int = Field(default=10, ge=0, le=100_000)
    max_connection_failures_per_hour: int = Field(default=3, ge=0, le=100_000)
    rollback_psr_min: float = Field(default=0.20, ge=0, le=1)
    """Roll back when the probabilistic Sharpe ratio of the session's returns falls below."""
    psr_min_samples: int = Field(default=30, ge=3, le=1_000_000)
    """Returns needed before the PSR trigger applies (fewer say nothing)."""


class HoursConfig(_Section):
    calendar: str = Field(default="auto", pattern=r"^(auto|on|off)$")
    """Venue sessions and IB's reset window gate new entries: auto = only with broker ibkr."""
    reset_start: time = time(23, 45)
    reset_end: time = time(0, 45)
    reset_weekend_end: time = time(3, 0)
    """IB's nightly reset (US/Eastern): Sun-Fri start-end, Saturday start to Sunday weekend_end."""


class FuturesConfig(_Section):
    roll_days_before_expiry: int = Field(default=8, ge=0, le=60)
    """Calendar days before the last trade date when a future rolls. 8 is CME's equity-index
    roll date (the Thursday eight days before the third-Friday expiry), when volume moves to the
    next quarter: front-month resolution skips a contract from then, and entries in it are
    refused CONTRACT_ROLLING (exits still pass)."""
    what_if_preview: bool = True
    """Ask the broker (when it has whatIf) for a margin preview of each pending approval."""
    preview_wait_s: float = Field(default=3.0, ge=0, le=30)
    """How long approve waits for a preview still on its way before going ahead with
    "no preview" recorded."""


class ReconcileConfig(_Section):
    interval_s: float = Field(default=300.0, gt=0, le=DAY_S)
    max_per_minute: int = Field(default=12, gt=0, le=600)


class IntakeConfig(_Section):
    socket_path: str = ""
    """Empty means `<data_dir>/intake.sock`."""
    plugins: list[str] = Field(default_factory=list)
    """Strategy plugins as 'module:callable'."""
    demo: bool = True
    """Run the demo intent source in sim/gateway mode."""


class KeysConfig(_Section):
    approve: str = "a"
    reject: str = "r"
    kill: str = "K"
    flatten: str = "F"
    reconcile: str = "R"
    rearm: str = "E"
    drift: str = "D"
    rollback: str = "X"
    gates: str = "g"
    audit: str = "l"
    help: str = "question_mark"
    quit: str = "q"

    @model_validator(mode="after")
    def _distinct(self) -> KeysConfig:
        seen: dict[str, str] = {}
        for action, key in self.model_dump().items():
            if key in seen:
                raise ValueError(f"key {key!r} is bound to both {seen[key]} and {action}")
            seen[key] = action
        return self


class ConsoleConfig(_Section):
    keys: KeysConfig = KeysConfig()
    approve_dwell_s: float = Field(default=1.0, ge=0, le=10)
    """A trade's headline must be on screen this long before `a` approves it (no double tap)."""
    symbols: tuple[Symbol, ...] = Field(default=(), max_length=30)
    """Symbols the quotes panel always shows (besides every one traded, held or working)."""


class CapitalTier(_Section):
    from_week: int = Field(ge=1, le=10_000)
    fraction: Decimal = Field(gt=0, le=1)


class ScaleConfig(_Section):
    go_live_date: str = ""
    """ISO date the strategy went live; empty means not live yet."""
    tiers: list[CapitalTier] = Field(
        default_factory=lambda: [
            CapitalTier(from_week=1, fraction=Decimal("0.10")),
            CapitalTier(from_week=2, fraction=Decimal("0.30")),
            CapitalTier(from_week=4, fraction=Decimal("1.0")),
        ]
    )
    """Capital fraction in force from each week after the go-live date."""
    max_position_fraction_of_tier: Decimal = Field(default=Decimal("0.25"), gt=0, le=1)
    capital: Decimal = Field(default=Decimal("100000"), gt=0, le=MONEY_CAP)


class GoLiveConfig(_Section):
    required_permissions: list[str] = Field(default_factory=lambda: ["stocks"])
    """Asset classes the account must be permitted to trade: stocks, options, futures."""
    signoff_roles: list[str] = Field(default_factory=lambda: ["risk_officer", "cto", "lead_trader"])
    min_coverage_pct: float = Field(default=80.0, ge=0, le=100)
    max_latency_delta_pct: float = Field(default=50.0, gt=0, le=100_000)
    min_fill_rate_pct: float = Field(default=98.0, ge=0, le=100)
    max_pacing_violations: int = Field(default=0, ge=0, le=100_000)
    max_latency_p95_ms: float = Field(default=200.0, gt=0, le=DAY_S * 1000)
    max_disconnects: int = Field(default=0, ge=0, le=100_000)
    min_sharpe_vs_backtest: float = Field(default=0.5, ge=0, le=100)
    max_rollback_s: float = Field(default=30.0, gt=0, le=DAY_S)
    rollback_nav_tolerance_pct: float = Field(default=1.0, gt=0, le=100)
    min_promotion_sessions: int = Field(default=20, ge=1, le=100_000)
    min_promotion_regimes: int = Field(default=2, ge=1, le=100)


class ExecutionConfig(_Section):
    """The slippage model the fill report compares fills with (ticks; positive = worse)."""

    modelled_slippage_ticks: dict[str, Decimal] = Field(default_factory=lambda: {"*": Decimal(0)})
    """"SYMBOL", "SYMBOL/style" or "*" -> the modelled mean slippage in ticks."""
    slippage_bound_ticks: Decimal = Field(default=Decimal(1), gt=0, le=100)


class AlertsConfig(_Section):
    """Off-screen alerts: terminal bell/desktop escape and apprise URLs, rate-limited."""

    apprise_urls: list[str] = Field(default_factory=list, max_length=20)
    """Secrets live in these URLs: keep the config private (deskgate refuses a shared one)."""
    terminal_bell: bool = True
    min_interval_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    escalate_after_s: float = Field(default=900.0, ge=60.0, le=86400.0)
    margin_cushion_pct: Decimal = Field(default=Decimal(10), ge=1, le=50)
    """A MARGIN_WARNING rings when the account's cushion falls below this percentage."""


class Config(_Section):
    mode: Mode = DEFAULT_MODE
    account: str = ""
    """Expected account id; live mode refuses any other."""
    data_dir: str = ""
    """Empty means $XDG_DATA_HOME/deskgate (or ~/.local/share/deskgate)."""
    broker: BrokerConfig = BrokerConfig()
    risk: RiskConfig = RiskConfig()
    tokens: TokenConfig = TokenConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    stale: StaleConfig = StaleConfig()
    kill: KillConfig = KillConfig()
    reconcile: ReconcileConfig = ReconcileConfig()
    hours: HoursConfig = HoursConfig()
    futures: FuturesConfig = FuturesConfig()
    intake: IntakeConfig = IntakeConfig()
    console: ConsoleConfig = ConsoleConfig()
    scale: ScaleConfig = ScaleConfig()
    golive: GoLiveConfig = GoLiveConfig()
    strategy: StrategyConfig = StrategyConfig()
    execution: ExecutionConfig = ExecutionConfig()
    alerts: AlertsConfig = AlertsConfig()

    def resolved_data_dir(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "deskgate"


class ConfigError(Exception):
    """A config file is unreadable or invalid; the message is one line for the trader."""


def load_config(path: Path | None) -> Config:
    """Load and validate a TOML config; a missing path gives the defaults."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        ) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply (max {MAX_CONFIG_DEPTH} levels)") from None
    if _depth(data) > MAX_CONFIG_DEPTH:
        raise ConfigError(f"{source}: nested too deeply (max {MAX_CONFIG_DEPTH} levels)")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
        key = ".".join(loc) or "(top level)"
        line = _line_of(text, loc)
        where = f" (line {line})" if line else ""
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{source}: {key}{where}: {msg}{more}") from None


MAX_CONFIG_DEPTH = 6
"""The deepest the config goes is [console.keys] (2) or [[scale.tiers]] (3)."""


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_TABLE = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort: the line where the key at `loc` is set."""
    if not loc:
        return None
    *tables, key = loc
    want_table = ".".join(tables)
    table = ""
    table_line = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if m := _TABLE.match(raw):
            table = m.group(1).replace(" ", "")
            if table == ".".join(loc):
                table_line = number
            continue
        m = _KEY.match(raw)
        if m and table == want_table and m.group(1).strip("\"'") == key:
            return number
    return table_line


_HEADER = """\
# deskgate configuration.
# Every key is optional; the values below are the defaults (the risk constitution).
# mode: "sim" (simulated venue), "paper" (IB paper account) or "live".
# Live trading needs mode = "live", DESKGATE_LIVE_CONFIRM=<account id> in the environment,
# and the trader typing the account id at start-up.
#
# [broker]     kind: sim | gateway | ibkr; port 0 with gateway = embedded gateway on a free port.
#              Paper ports: 4002 (IB Gateway) / 7497 (TWS). Live: 4001 / 7496.
# [risk]       money in account currency; max_stop_ticks is the widest allowed stop.
# [tokens]     approval tokens expire after expiry_s seconds (monotonic clock).
# [lifecycle]  an order with no broker ack after stall_timeout_s becomes STALLED.
# [stale]      intents older than their TTL (minutes, by regime) are refused: STATE_CONFLICT.
# [kill]       automatic kill-switch / rollback triggers.
# [hours]      calendar auto | on | off: no new entries outside the venue session or in IB's
#              nightly reset (auto: only with broker ibkr; the sim venue trades around the clock).
# [futures]    roll_days_before_expiry (CME equity index: 8); whatIf preview of each pending
#              approval, and how long approve waits for one (preview_wait_s).
# [reconcile]  periodic reconciliation with the broker (never more than max_per_minute).
# [intake]     local socket for JSON-lines intents; plugins as "module:callable".
# [console.keys] remap any key (Textual key names, e.g. "question_mark").
# [scale]      capital tiers from the go-live date.
# [golive]     go-live gate thresholds, required account permissions and sign-off roles.
# [strategy]   the K1–K5 bot (`--strategies`): templates, signals, beliefs F1–F6, EUC, sizing
#              (never above [risk]), trade manager, learning loop, DVS/EQS gates, session times.
# [execution]  the slippage model `deskgate fill-report` checks fills against (ticks).
# [alerts]     off-screen alerts: terminal bell, apprise URLs, rate limit, escalation (seconds).

"""


def default_config_text() -> str:
    """The commented default config written by `deskgate init`."""
    return _HEADER + tomli_w.dumps(_tomlable(Config().model_dump()))


def _tomlable(value: Any) -> Any:
    """Decimals as TOML numbers, enums as strings, no None."""
    if isinstance(value, dict):
        return {k: _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_tomlable(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


def write_default_config(path: Path, *, overwrite: bool = False) -> None:
    if path.exists() and not overwrite:
        raise ConfigError(f"{path}: already exists (not overwritten)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(default_config_text(), encoding="utf-8")
