"""A bracket leaves the adapter in one socket write: its legs in order, none lost on an error."""

from __future__ import annotations

import pytest

from broker.ibkr.link import IbLink
from broker.ibkr.pacing import OutboundPacer
from engine.clock import ManualClock


class FakeConnection:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendMsg(self, msg: bytes) -> None:
        self.writes.append(msg)


class FakeClient:
    def __init__(self) -> None:
        self.conn = FakeConnection()


class FakeIb:
    def __init__(self) -> None:
        self.client = FakeClient()


def _link() -> tuple[IbLink, FakeConnection]:
    ib = FakeIb()
    link = IbLink(ib, OutboundPacer.per_second(), ManualClock(), request_timeout_s=1)  # type: ignore[arg-type]
    return link, ib.client.conn


def test_messages_sent_inside_one_write_leave_together_in_order() -> None:
    link, conn = _link()
    with link.one_write():
        conn.sendMsg(b"parent")
        conn.sendMsg(b"child")
        assert conn.writes == []  # nothing leaves before the bracket is whole
    assert conn.writes == [b"parentchild"]
    conn.sendMsg(b"later")  # outside the block: sent as it comes
    assert conn.writes == [b"parentchild", b"later"]


def test_what_was_sent_before_an_error_still_leaves() -> None:
    link, conn = _link()
    with pytest.raises(ConnectionError), link.one_write():
        conn.sendMsg(b"parent")
        raise ConnectionError("socket closed")
    assert conn.writes == [b"parent"]
    conn.sendMsg(b"next")
    assert conn.writes == [b"parent", b"next"]
