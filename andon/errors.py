"""Every error andon raises, under one root; each also subclasses the matching built-in."""

from __future__ import annotations


class AndonError(Exception):
    """Root of andon's errors. `hint` says what to do about it."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  what to do: {self.hint}" if self.hint else base


class ConfigError(AndonError, ValueError):
    """A site config file is missing, unreadable or invalid."""


class ResourceError(AndonError, OSError):
    """A local resource andon needs failed: a port in use, a directory it cannot write (exit status 4)."""


class BrokerError(AndonError, ConnectionError):
    """The embedded Kafka-protocol broker could not be started or reached."""


class KernelInputError(AndonError, ValueError):
    """Arrays handed to a numba kernel have the wrong shape or dtype."""


class SimulationError(AndonError, ValueError):
    """The plant simulator was asked for something it cannot do."""
