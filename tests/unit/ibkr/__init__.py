"""Unit tests of the ibkr adapter pure parts: mapping tables, conversion, pacing, safety."""
