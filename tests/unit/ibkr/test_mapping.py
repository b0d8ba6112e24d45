"""The pure mapping tables: IB statuses, error codes, sides, account tags."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from broker.ibkr import mapping
from broker.ibkr.mapping import ErrorCategory, classify_error
from contracts.broker import parse_order_ref
from contracts.enums import BrokerOrderStatus, Side

IBKR = Path(__file__).resolve().parents[3] / "broker" / "ibkr"

# TWS_PROTOCOL.md, "Error codes that change behaviour": every code, and what it must mean
BEHAVIOUR_CODES: dict[int, ErrorCategory] = {
    1100: ErrorCategory.CONNECTIVITY_LOST,
    1101: ErrorCategory.CONNECTIVITY_RESTORED_DATA_LOST,
    1102: ErrorCategory.CONNECTIVITY_RESTORED,
    2103: ErrorCategory.FARM_DOWN,
    2105: ErrorCategory.FARM_DOWN,
    2104: ErrorCategory.FARM_OK,
    2106: ErrorCategory.FARM_OK,
    2158: ErrorCategory.FARM_OK,
    100: ErrorCategory.PACING,
    103: ErrorCategory.ORDER_REJECTED,
    201: ErrorCategory.ORDER_REJECTED,
    202: ErrorCategory.CANCELLED,
    10147: ErrorCategory.CANCEL_REJECTED,
    10148: ErrorCategory.CANCEL_REJECTED,
    104: ErrorCategory.MODIFY_REJECTED,
    105: ErrorCategory.MODIFY_REJECTED,
    109: ErrorCategory.PRECAUTIONARY,
    451: ErrorCategory.PRECAUTIONARY,
    321: ErrorCategory.ORDER_REJECTED,  # on a new order
    326: ErrorCategory.CLIENT_ID_IN_USE,
    502: ErrorCategory.NOT_CONNECTED,
    504: ErrorCategory.NOT_CONNECTED,
}


@pytest.mark.parametrize(("code", "category"), sorted(BEHAVIOUR_CODES.items()))
def test_every_behaviour_code_is_in_the_table(code: int, category: ErrorCategory) -> None:
    assert mapping.is_known(code)
    assert classify_error(code) is category


@pytest.mark.parametrize("code", [110, 321])
def test_price_and_validation_errors_depend_on_whether_the_order_was_acknowledged(
    code: int,
) -> None:
    assert classify_error(code, order_acknowledged=False) is ErrorCategory.ORDER_REJECTED
    # a failed modify: the original order may still be live
    assert classify_error(code, order_acknowledged=True) is ErrorCategory.MODIFY_REJECTED


@pytest.mark.parametrize("code", [2104, 2106, 2158, 10349, 2103, 2105, 2107, 2119, 2150])
def test_warnings_never_change_order_state(code: int) -> None:
    assert mapping.is_warning(code)
    assert classify_error(code) not in mapping.ORDER_STATE_CATEGORIES
    assert classify_error(code, order_acknowledged=True) not in mapping.ORDER_STATE_CATEGORIES


def test_10349_is_a_notice() -> None:
    assert classify_error(10349) is ErrorCategory.NOTICE


def test_unknown_codes_are_notices_but_not_known() -> None:
    assert classify_error(99999) is ErrorCategory.NOTICE
    assert not mapping.is_known(99999)
    assert not mapping.is_warning(99999)  # unknown: the adapter re-checks the order


@pytest.mark.parametrize(
    ("ib", "ours"),
    [
        ("PendingSubmit", BrokerOrderStatus.PENDING_SUBMIT),
        ("ApiPending", BrokerOrderStatus.PENDING_SUBMIT),
        ("PreSubmitted", BrokerOrderStatus.WORKING),
        ("Submitted", BrokerOrderStatus.WORKING),
        ("ApiUpdate", BrokerOrderStatus.WORKING),
        ("PendingCancel", BrokerOrderStatus.PENDING_CANCEL),
        ("Cancelled", BrokerOrderStatus.CANCELLED),
        ("ApiCancelled", BrokerOrderStatus.CANCELLED),
        ("Filled", BrokerOrderStatus.FILLED),
        ("Inactive", BrokerOrderStatus.REJECTED),
    ],
)
def test_order_status_table(ib: str, ours: BrokerOrderStatus) -> None:
    assert mapping.order_status(ib) is ours


@pytest.mark.parametrize("ib", ["ValidationError", "", "SomethingNew"])
def test_local_or_unknown_statuses_carry_no_state(ib: str) -> None:
    assert mapping.order_status(ib) is None


@pytest.mark.parametrize(
    ("ib", "side"),
    [("BUY", Side.BUY), ("BOT", Side.BUY), ("SELL", Side.SELL), ("SLD", Side.SELL)],
)
def test_sides(ib: str, side: Side) -> None:
    assert mapping.side(ib) is side


def test_unknown_side_raises() -> None:
    with pytest.raises(ValueError):
        mapping.side("HOLD")


@pytest.mark.parametrize(
    ("message", "farm"),
    [
        ("Market data farm connection is OK:usfarm.nj", "usfarm.nj"),
        ("HMDS data farm connection is OK:ushmds", "ushmds"),
        ("Sec-def data farm connection is OK:secdefnj", "secdefnj"),
        ("no farm named here", "unknown"),
    ],
)
def test_farm_name(message: str, farm: str) -> None:
    assert mapping.farm_name(message) == farm


@pytest.mark.parametrize(
    ("tag", "currency", "field"),
    [
        ("NetLiquidation", "GBP", "net_liquidation"),
        ("AvailableFunds", "USD", "available_funds"),
        ("BuyingPower", "USD", "buying_power"),
        ("TotalCashValue", "USD", "cash"),
        ("InitMarginReq", "USD", "init_margin"),
        ("MaintMarginReq", "USD", "maint_margin"),
        ("Cushion", "", "cushion"),
        ("RealizedPnL", "BASE", "realized_pnl"),
        ("UnrealizedPnL", "BASE", "unrealized_pnl"),
        ("RealizedPnL", "GBP", None),  # per-currency row, not the total
        ("NetLiquidation", "BASE", None),
        ("AccruedCash", "USD", None),
    ],
)
def test_account_fields(tag: str, currency: str, field: str | None) -> None:
    assert mapping.account_field(tag, currency) == field


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1040992.61", Decimal("1040992.61")),
        (1.5, Decimal("1.5")),
        ("", None),
        (None, None),
        ("abc", None),
        (1.7976931348623157e308, None),  # UNSET_DOUBLE
        (2**31 - 1, None),  # UNSET_INTEGER
        (float("nan"), None),
        (float("inf"), None),
    ],
)
def test_to_decimal(raw: object, value: Decimal | None) -> None:
    assert mapping.to_decimal(raw) == value  # type: ignore[arg-type]


def test_to_price_refuses_ib_no_price() -> None:
    assert mapping.to_price(-1.0) is None
    assert mapping.to_price(0.0) is None
    assert mapping.to_price(101.25) == Decimal("101.25")


@pytest.mark.parametrize(
    "module", ["mapping.py", "orders.py", "account.py", "safety.py", "pacing.py"]
)
def test_pure_modules_do_not_import_ib_async(module: str) -> None:
    tree = ast.parse((IBKR / module).read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    assert not [n for n in names if n.split(".")[0] in ("ib_async", "ib_insync", "ibapi")]


def test_a_foreign_order_ref_never_parses_as_deskgate_own() -> None:
    for ref in ("", "dg:abc:ENTRY", "dg:abc:SL", "anything"):
        label = mapping.foreign_order_ref(77, 1234, ref)
        assert parse_order_ref(label) is None
        assert "client 77" in label and "1234" in label
    assert mapping.foreign_order_ref(0, 9, "").startswith("TWS")


def test_the_read_only_refusal_is_recognised_and_nothing_else_is() -> None:
    assert mapping.is_read_only_refusal(
        "Error validating request.-'bN' : cause - The API interface is currently in Read-Only mode."
    )
    assert not mapping.is_read_only_refusal("Error validating request.-'bN' : cause - price")
