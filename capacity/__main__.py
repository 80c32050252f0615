"""``python -m capacity``: the command line."""

from capacity.cli import main

raise SystemExit(main())
