"""Crash-recovery tests: engines killed with SIGKILL in forked children, then restarted."""

CHILD_PRELOAD = ("tests.crash.fork_preload",)
"""For the fork server: what every child would otherwise import or build for itself."""
