"""Unit tests for the simulated venue and the in-process sim broker."""
