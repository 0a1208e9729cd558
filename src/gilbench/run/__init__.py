"""``gilbench run`` below the command line: ``config`` (what to measure), ``matrix`` (measuring
it into a results file), ``signals`` (stopping cleanly), ``builds`` (the same matrix under other
interpreters; ``report.compare_builds`` compares those runs)."""
