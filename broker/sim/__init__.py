"""The simulated venue: seeded quotes, fills, latency and chaos modes, behind the broker port."""
