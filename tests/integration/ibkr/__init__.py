"""The ibkr adapter end to end: real ib_async against TWS-protocol servers on loopback."""
