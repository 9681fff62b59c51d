"""Errors of andon.operators (kernel input errors live in andon.errors as KernelInputError)."""

from __future__ import annotations

from andon.errors import AndonError, KernelInputError


class OperatorError(AndonError):
    """Root of the operators' own errors."""


class StateError(OperatorError, ValueError):
    """A snapshot cannot be resumed with this configuration."""


class BatchError(OperatorError, ValueError):
    """A ReadingBatch does not match the registry the shard was built with."""


__all__ = ["BatchError", "KernelInputError", "OperatorError", "StateError"]
