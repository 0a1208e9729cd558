"""``python -m gilbench`` is the ``gilbench`` command."""

from gilbench.cli import main

raise SystemExit(main())
