"""The Interactive Brokers adapter: the only package that imports ib_async."""
