"""One module per ``capacity`` sub-command; see :mod:`capacity.cli`."""
