"""A TWS-socket-protocol paper gateway serving the simulated venue over loopback."""

from broker.gateway.faults import FaultInjector
from broker.gateway.limits import GatewayLimits
from broker.gateway.pacing import PacingPolicy
from broker.gateway.server import GatewayServer, run_gateway
from broker.gateway.testing import running_gateway

__all__ = [
    "FaultInjector",
    "GatewayLimits",
    "GatewayServer",
    "PacingPolicy",
    "run_gateway",
    "running_gateway",
]
