"""Conformance: the gateway answers the capture's requests with real TWS's ids and field counts.

A raw socket client replays the requests behind `tws-v176-capture/request_response.json`
(handshake, startApi, reqPositions, reqOpenOrders, reqCompletedOrders, reqAccountUpdates,
reqAccountUpdatesMulti, reqExecutions, whatIf placeOrder, placeOrder without exchange,
reqAccountSummary) and compares each answer's (message id, field count) pairs with the capture.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from broker.gateway import GatewayServer, running_gateway
from broker.gateway.codec import decode_fields, encode_message, frame, read_frame, split_frames
from tests.support import TWS_CAPTURE

CAPTURE = TWS_CAPTURE
ACCOUNT = "DU5509097"
SUMMARY_TAGS = (
    "AccountType,NetLiquidation,TotalCashValue,SettledCash,AccruedCash,BuyingPower,"
    "EquityWithLoanValue,PreviousDayEquityWithLoanValue,GrossPositionValue,RegTEquity,"
    "RegTMargin,SMA,InitMarginReq,MaintMarginReq,AvailableFunds,ExcessLiquidity,Cushion,"
    "FullInitMarginReq,FullMaintMarginReq,FullAvailableFunds,FullExcessLiquidity,"
    "LookAheadNextChange,LookAheadInitMarginReq,LookAheadMaintMarginReq,"
    "LookAheadAvailableFunds,LookAheadExcessLiquidity,HighestSeverity,DayTradesRemaining,"
    "DayTradesRemainingT+1,DayTradesRemainingT+2,DayTradesRemainingT+3,"
    "DayTradesRemainingT+4,Leverage,$LEDGER:ALL"
)

Shape = tuple[str, int]


def capture_frames() -> dict[str, list[list[str]]]:
    """Each capture key's answer, decoded into field lists."""
    raw = json.loads(CAPTURE.read_text())
    out = {}
    for key, chunks in raw.items():
        payloads, rest = split_frames(b"".join(base64.b64decode(c) for c in chunks))
        assert rest == b""
        out[key] = [decode_fields(p) for p in payloads]
    return out


def shapes(frames: list[list[str]]) -> set[Shape]:
    return {(f[0], len(f)) for f in frames}


# ib_async 2.1.0's placeOrder for MarketOrder("BUY", 100) on Stock("AAPL", "SMART", "USD") at
# server version 176, field by field (fields 1, 9 and 85 are orderId, exchange and whatIf).
PLACE_ORDER_TEMPLATE = (
    "3|219|0|AAPL|STK||0.0|||SMART||USD|||||BUY|100|MKT||||||O|0||1|0|0|0|0|0|0|0||0.0|||||||"
    "|0||-1|0|||0|||0|0||0||||||0|||||0|||||||||||0|||0|0|||1||0|0|0|0|||||||0|||||||||0|0|0|0"
    "|||0||"
)


def place_order(order_id: int, exchange: str, what_if: bool) -> list[str]:
    """The template with this order id, exchange and whatIf flag."""
    fields = PLACE_ORDER_TEMPLATE.split("|")
    assert len(fields) == 115 and fields[85] == "1"
    fields[1], fields[9], fields[85] = str(order_id), exchange, "1" if what_if else "0"
    return fields


class RawClient:
    """Just enough of an API client to send requests and collect the answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def send(self, *fields: object) -> None:
        self.writer.write(encode_message(fields))  # type: ignore[arg-type]

    async def until(self, done: object) -> list[list[str]]:
        """Read frames until one satisfies `done(fields)`."""
        frames = []
        while True:
            fields = decode_fields(await asyncio.wait_for(read_frame(self.reader), 3))
            frames.append(fields)
            if done(fields):  # type: ignore[operator]
                return frames


@pytest.fixture
async def raw() -> object:
    async with running_gateway(seed=5, account=ACCOUNT) as server:
        client = await RawClient.open(server.port)
        yield server, client
        client.writer.close()


async def test_every_captured_answer_has_tws_ids_and_field_counts(
    raw: tuple[GatewayServer, RawClient],
) -> None:
    _, client = raw
    real = capture_frames()
    ours: dict[str, list[list[str]]] = {}

    def is_id(msg_id: str):
        return lambda f: f[0] == msg_id

    client.writer.write(b"API\0" + frame(b"v157..178"))
    ours["API_"] = [decode_fields(await asyncio.wait_for(read_frame(client.reader), 3))]
    client.send(71, 2, 0, "")
    ours["71_2"] = await client.until(lambda f: f[0] == "4" and f[3] == "2158")
    client.send(61, 1)
    ours["61_1"] = await client.until(is_id("62"))
    client.send(5, 1)
    ours["5_1"] = await client.until(is_id("53"))
    client.send(99, 0)
    ours["99_0"] = await client.until(is_id("102"))
    client.send(6, 2, 1, ACCOUNT)
    ours["6_2"] = await client.until(is_id("54"))
    client.send(76, 1, 217, ACCOUNT, "", 0)
    ours["76_1"] = await client.until(is_id("74"))
    client.send(7, 3, 218, 0, "", "", "", "", "", "")
    ours["7_3"] = await client.until(is_id("55"))
    client.send(*place_order(219, "SMART", what_if=True))
    ours["3_219"] = await client.until(is_id("5"))
    client.send(*place_order(220, "", what_if=False))
    ours["3_220"] = await client.until(is_id("4"))
    client.send(62, 1, 221, "All", SUMMARY_TAGS)
    ours["62_1"] = await client.until(is_id("64"))

    assert ours["API_"][0][0] == "176" and len(ours["API_"][0]) == 2
    assert len(real["API_"][0]) == 2
    exact = ("71_2", "61_1", "5_1", "99_0", "6_2", "76_1", "7_3", "3_219")
    for key in exact:
        assert shapes(ours[key]) == shapes(real[key]), key
    # the capture also holds streaming updates from earlier subscriptions: ours must be a subset
    for key in ("3_220", "62_1"):
        assert shapes(ours[key]) <= shapes(real[key]), key
    assert {s for s in shapes(ours["62_1"])} >= {("63", 7), ("64", 3)}
    # meanings, not just counts
    assert [f[0] for f in ours["71_2"][:2]] == ["15", "9"] and ours["71_2"][0][2] == ACCOUNT
    assert {f[3] for f in ours["71_2"][2:]} <= {f[3] for f in real["71_2"][2:]}
    assert ours["6_2"][-1] == ["54", "1", ACCOUNT] and ours["6_2"][-2][0] == "8"
    assert ours["76_1"][-1] == ["74", "1", "217"] and ours["7_3"][-1] == ["55", "1", "218"]
    [error] = [f for f in ours["3_220"] if f[0] == "4"]
    [real_error] = [f for f in real["3_220"] if f[0] == "4"]
    assert error[:4] == real_error[:4] == ["4", "2", "220", "321"]
    assert error[4] == real_error[4].replace("Missing order exchange.", "") + (
        "Missing order exchange."
    )
    ours_order, real_order = ours["3_219"][0], real["3_219"][0]
    for marker in ("PreSubmitted", "None", "IB"):
        assert ours_order.index(marker) == real_order.index(marker), marker
    status_at = real_order.index("PreSubmitted")
    assert ours_order[status_at - 1] == real_order[status_at - 1] == "1"  # whatIf
    assert ours_order[1] == "219"


async def test_account_tags_cover_the_money_fields(raw: tuple[GatewayServer, RawClient]) -> None:
    _, client = raw
    client.writer.write(b"API\0" + frame(b"v157..178"))
    await read_frame(client.reader)
    client.send(71, 2, 0, "")
    await client.until(lambda f: f[0] == "4" and f[3] == "2158")
    wanted = {
        "NetLiquidation", "AvailableFunds", "BuyingPower", "TotalCashValue",
        "InitMarginReq", "MaintMarginReq", "Cushion",
    }  # fmt: skip
    client.send(6, 2, 1, ACCOUNT)
    values = {f[2] for f in await client.until(lambda f: f[0] == "54") if f[0] == "6"}
    client.send(76, 1, 9, ACCOUNT, "", 0)
    multi = {f[5] for f in await client.until(lambda f: f[0] == "74") if f[0] == "73"}
    client.send(62, 1, 10, "All", SUMMARY_TAGS)
    summary = {f[4] for f in await client.until(lambda f: f[0] == "64") if f[0] == "63"}
    assert wanted <= values and wanted <= multi and wanted <= summary
    real = capture_frames()
    real_values = {f[2] for f in real["6_2"] if f[0] == "6"}
    assert values <= real_values | {"Leverage-S"}
