"""`deskgate limits set` from another process against a real engine (sim venue) serving its
control socket: tightening applies at once and re-checks pending intents, loosening needs a
typed reason, both are audit records."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from console.compose import Session
from contracts.config import Config
from contracts.enums import LifecycleState
from contracts.events import LimitChanged
from contracts.intent import Instrument
from tests.integration.control_support import deskgate
from tests.support import make_intent

AAPL = Instrument(symbol="AAPL")


async def test_limits_set_from_another_process_tightens_and_rechecks_pending(
    control_session: Session, tmp_path: Path
) -> None:
    engine = control_session.engine
    quote = await engine.watch_quote(AAPL)
    assert quote is not None and quote.bid is not None
    limit = quote.bid.quantize(Decimal("0.01"))
    intent = make_intent(
        engine.clock, quantity=10, limit=str(limit), stop_loss=str(limit - Decimal("0.10"))
    )
    assert (await engine.propose(intent, source="test")).accepted
    code, out, err = await deskgate(
        "limits", "set", "max_order_quantity", "5", "--data-dir", str(tmp_path)
    )
    assert code == 0, out + err
    assert "max_order_quantity tightened: 500 -> 5; 1 pending denied" in out
    assert engine.config.risk.max_order_quantity == 5
    assert engine.book.records[intent.intent_id].state is LifecycleState.REJECTED

    code, out, err = await deskgate(
        "limits", "set", "max_order_quantity", "50", "--data-dir", str(tmp_path)
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "needs a typed reason" in err
    assert engine.config.risk.max_order_quantity == 5

    code, out, err = await deskgate(
        "limits", "set", "max_order_quantity", "50", "--reason", "size back",
        "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 0, out + err
    assert engine.config.risk.max_order_quantity == 50
    engine.store.flush()
    changes = [e for e in engine.store.events() if isinstance(e, LimitChanged)]
    assert [(c.new, c.tightens, c.reason, c.actor) for c in changes] == [
        ("5", True, "", "control"),
        ("50", False, "size back", "control"),
    ]


async def test_limits_set_refuses_a_bad_value_in_one_line(
    control_session: Session, tmp_path: Path
) -> None:
    code, _, err = await deskgate(
        "limits", "set", "max_notional", "inf", "--data-dir", str(tmp_path)
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "max_notional" in err
    assert control_session.engine.config.risk.max_notional == Config().risk.max_notional
