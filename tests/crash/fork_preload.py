"""Imported once by the crash tests' fork server, so that no forked child pays for it again."""

import pytest  # noqa: F401  (every child re-runs the main script, pytest's, which imports it)

from contracts.events import build_validators

build_validators()  # `Engine.start()` builds them: here once, instead of in every child
