"""Crash-recovery tests: engines killed with SIGKILL in forked children, then restarted."""

CHILD_PRELOAD = ("pytest",)
"""For the fork server: each child re-runs the main script (pytest's), so import it just once."""
