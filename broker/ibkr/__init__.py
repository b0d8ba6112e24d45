"""The Interactive Brokers adapter: the only package that imports ib_async."""

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
