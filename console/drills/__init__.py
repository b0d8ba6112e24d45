"""Drills that exercise a whole engine through its public API: paper session, chaos, crash."""
