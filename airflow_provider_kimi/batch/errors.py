"""The root of every error the provider raises, and the kinds a bad value or a missing extra take.

Everything the provider raises on purpose derives from :class:`KimiError`, so ``except KimiError``
catches it all. The kinds below also derive from the builtin a caller would catch without knowing
this provider (``ValueError``, ``TypeError``, ``KeyError``, ``ImportError``), so code written
against the builtins keeps working. No Airflow import: the pure layer and the client raise these.
"""

from __future__ import annotations


class KimiError(Exception):
    """Base of every error this provider raises on purpose."""


class KimiValueError(KimiError, ValueError):
    """A value the provider was given (an argument, a file's content, an answer) that it cannot use."""


class KimiTypeError(KimiError, TypeError):
    """A value of a type the provider cannot use where it was given."""


class KimiKeyError(KimiError, KeyError):
    """A row or a mapping lacks the key the provider was told to read."""

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument; the message reads better as written.
        return str(self.args[0]) if self.args else ""


class KimiMissingDependencyError(KimiError, ImportError):
    """A feature needs an optional package that is not installed; the message says which extra."""


class KimiFileError(KimiError, OSError):
    """A path the provider cannot read the way it was asked to (a pipe, a device)."""
