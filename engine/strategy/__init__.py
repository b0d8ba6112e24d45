"""The strategy runtime: signals, beliefs, K1–K5 decisions, trade manager, learning, backtest."""
