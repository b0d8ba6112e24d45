"""Live account ids never reach the logs: the redaction filter on ib_async's loggers."""

from __future__ import annotations

import logging

from broker.ibkr.connection import IB_LOGGERS, RedactAccounts, redact_account_in_logs


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("ib_async.wrapper", logging.INFO, __file__, 1, msg, args, None)


def test_filter_masks_the_account_in_message_and_args() -> None:
    redactor = RedactAccounts()
    redactor.accounts.add("U7654321")
    record = _record("position: Position(account=%r, qty=%s)", "U7654321", 10)
    assert redactor.filter(record)
    assert "U7654321" not in record.getMessage()
    assert "U765…21" in record.getMessage()


def test_other_records_pass_untouched() -> None:
    redactor = RedactAccounts()
    redactor.accounts.add("U7654321")
    record = _record("Error %d, reqId %d", 2104, -1)
    assert redactor.filter(record)
    assert record.args == (2104, -1)


def test_installed_on_every_ib_async_logger() -> None:
    redact_account_in_logs("U1111111")
    for name in IB_LOGGERS:
        filters = logging.getLogger(name).filters
        assert any(isinstance(f, RedactAccounts) and "U1111111" in f.accounts for f in filters)
