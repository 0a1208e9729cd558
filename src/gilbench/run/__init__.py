"""``gilbench run`` below the command line: ``config`` (what to measure), ``matrix`` (measuring
it into a results file), ``signals`` (stopping cleanly), ``builds`` (the same matrix under other
interpreters) and ``compare_builds`` (the comparison of those runs)."""
