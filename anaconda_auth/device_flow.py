"""The device login's module name in anaconda-auth 0.15 (now :mod:`anaconda_auth.flows.device`)."""

from __future__ import annotations

from anaconda_auth.flows.device import DEFAULT_INTERVAL, GRANT_TYPE, SLOW_DOWN_STEP, run

__all__ = ["DEFAULT_INTERVAL", "GRANT_TYPE", "SLOW_DOWN_STEP", "run"]
