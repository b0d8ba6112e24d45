"""Integration tests: the real ib_async client against the TWS-protocol paper gateway."""
