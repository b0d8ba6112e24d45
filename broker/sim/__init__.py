"""The simulated venue: seeded quotes, fills, latency and chaos modes, behind the broker port."""

from broker.sim.bar_stream import BarStream
from broker.sim.bars import live_bar, session_bars
from broker.sim.broker import SimBroker
from broker.sim.chaos import PROFILES, ChaosProfile, Outcome, ScriptedOutcome
from broker.sim.events import (
    Execution,
    OrderEventKind,
    VenueError,
    VenueEvent,
    VenueFillEvent,
    VenueOrderEvent,
    VenueQuoteEvent,
)
from broker.sim.ledger import AccountState, SimPosition
from broker.sim.orders import OrderSpec, SimOrder, VenueOrderStatus
from broker.sim.quotes import SimQuote
from broker.sim.scheduler import AsyncioScheduler, ManualScheduler, Scheduler
from broker.sim.streamer import QuoteStreamer
from broker.sim.symbols import DEFAULT_SYMBOLS, SymbolSpec
from broker.sim.venue import SimVenue

__all__ = [
    "DEFAULT_SYMBOLS",
    "PROFILES",
    "AccountState",
    "AsyncioScheduler",
    "BarStream",
    "ChaosProfile",
    "Execution",
    "ManualScheduler",
    "OrderEventKind",
    "OrderSpec",
    "Outcome",
    "QuoteStreamer",
    "Scheduler",
    "ScriptedOutcome",
    "SimBroker",
    "SimOrder",
    "SimPosition",
    "SimQuote",
    "SimVenue",
    "SymbolSpec",
    "VenueError",
    "VenueEvent",
    "VenueFillEvent",
    "VenueOrderEvent",
    "VenueOrderStatus",
    "VenueQuoteEvent",
    "live_bar",
    "session_bars",
]
