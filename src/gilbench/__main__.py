"""``python -m gilbench`` is the ``gilbench`` command."""

from gilbench.commands import main

raise SystemExit(main())
