"""User-facing errors: each message is one line that says what is wrong and how to fix it.

The CLI turns :class:`UsageError` (bad input the user can correct: a config key, a value, a
missing or malformed file) into exit code 2 and :class:`ReprlabError` (a run that failed, for
instance a non-finite loss) into exit code 1, printing only the message.
"""

from __future__ import annotations


class ReprlabError(Exception):
    """A failure with a one-line, actionable message."""

    exit_code = 1


class UsageError(ReprlabError, ValueError):
    """Bad input that the user can fix (config, arguments)."""

    exit_code = 2


class ConfigError(UsageError):
    """An unknown config key or a value that is not allowed."""


class DataError(UsageError):
    """A data set that is missing, malformed or of the wrong shape/dtype."""


class CheckpointError(UsageError):
    """A checkpoint that is missing, corrupt, incomplete or of another model."""


class NonFiniteLossError(ReprlabError):
    """Training produced a NaN/Inf loss; the last good checkpoint is kept."""


class ResourceError(UsageError):
    """A data set or model too large for the available memory, refused before allocation."""
