"""The package's exception and warning classes.

Every error raised for bad input is a :class:`CapacityError` (a ``ValueError``), so
callers can catch one class; the subclasses say which layer refused the input. Every
message names the input, the rule it broke and how to fix it.
"""

from __future__ import annotations


class CapacityError(ValueError):
    """Bad input to the capacity library: the message names input, rule and fix."""


class CatalogError(CapacityError):
    """An instance type, price table or catalog file that cannot be used."""


class IngestError(CapacityError):
    """A metrics file that cannot be read or regularised."""


class ParameterError(CapacityError):
    """A notebook, command-line or YAML parameter that breaks its rule."""


class ModelError(CapacityError):
    """Inputs a model cannot evaluate (for example utilisation outside its range)."""


class NotebookRunError(RuntimeError):
    """A notebook run that failed; the message names the cell and the error."""


class Terminated(KeyboardInterrupt):
    """A run stopped by SIGTERM (a scheduler or service manager), handled as Ctrl-C."""


class CapacityWarning(UserWarning):
    """Valid but doubtful input: the message says what to check."""
