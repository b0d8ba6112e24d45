"""The Interactive Brokers adapter: the only package that imports ib_async.

| module         | what lives there                                                        |
| -------------- | ----------------------------------------------------------------------- |
| adapter        | `IbkrBroker` (the BrokerPort): composes the parts below, routes errors  |
| link           | the shared ib_async link: pacing, timed requests, event delivery        |
| session        | connect, account checks, reconnect, heartbeat, 1100/1101/1102 resyncs   |
| order_flow     | place / modify / cancel / list / what-if; ib_async order event handlers |
| order_outcomes | broker answers -> accepted/filled/cancelled/rejected, each exactly once |
| confirmation   | confirm order state with the broker after errors, pacing, reconnects    |
| market_data    | contract details / qualification and quote subscriptions                |
| bars           | historical bars, live 5-s bars, the gap filled once after a break       |
| account_feed   | account values and positions, resynced after a reconnect                |
| connection     | connectAsync raced against 326 / early close; account-id log redaction  |
| mapping        | pure tables: IB status / error code / side / account tag -> contracts   |
| convert        | Instrument/OrderRequest <-> ib_async Contract/Order/Trade/Fill          |
| orders         | the adapter's own order records keyed by permId, exec-id dedupe         |
| account        | account value rows folded into an AccountSnapshot                       |
| pacing         | outbound pacer (≤ 46 msg/s, cancels first) and reconnect backoff        |
| safety         | live-port and account checks (paper DU only unless live confirmed)      |
| probe          | read-only connect: account snapshot, type and permissions               |
"""

from broker.ibkr.adapter import IbkrBroker
from broker.ibkr.connection import ClientIdInUse
from broker.ibkr.pacing import ReconnectPolicy
from broker.ibkr.probe import ProbeResult, probe
from broker.ibkr.safety import BrokerRefused

__all__ = [
    "BrokerRefused",
    "ClientIdInUse",
    "IbkrBroker",
    "ProbeResult",
    "ReconnectPolicy",
    "probe",
]
