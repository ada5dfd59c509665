"""User-facing errors: the CLI prints their message and exits non-zero, without a traceback."""
from __future__ import annotations


class GantransferError(Exception):
    """An error caused by the user's input; the message names the problem and the fix."""

    exit_code: int = 2


class ConfigError(GantransferError):
    """A configuration value is missing, of the wrong type or out of range."""


class DataError(GantransferError):
    """A data set is missing, empty, unreadable or does not fit the request."""


class CheckpointError(GantransferError):
    """A generator directory or training state cannot be read."""


class TrainingDiverged(GantransferError):
    """A loss or a weight became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 3
