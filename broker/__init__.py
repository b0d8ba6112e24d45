"""Adapters behind the engine's broker port: ibkr, sim, and the TWS-protocol gateway."""
