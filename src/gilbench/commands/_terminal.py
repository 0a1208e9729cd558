"""Terminal tables that stay readable at 80 columns, shared by the commands that print them."""

from __future__ import annotations

import os


#: columns whose values are names or numbers: never cut (cython-gil vs cython-nogil); the
#: others (verdicts, errors) wrap to whatever width is left
_WHOLE = {"kernel", "variant", "executor", "W", "median", "CPU util", "efficiency", "rounds",
          "ratio b/a [95%]"}


#: shorter headers for narrow terminals
_NARROW_HEADERS = {"CPU util": "CPU", "efficiency": "eff.", "speedup [95% CI]": "speedup",
                   "median": "median", "rounds": "rnd"}


def terminal_table(console, title: str, headers: tuple[str, ...]):
    """A rich Table that stays readable at 80 columns: names and numbers whole, the speedup
    wrapped before its interval, words (verdicts, errors) wrapped; on a narrow console
    (under 120 columns) short headers and no outer frame."""
    from rich import box
    from rich.table import Table

    narrow = console.width < 120
    table = (Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                   collapse_padding=True) if narrow else Table(title=title))
    for header in headers:
        name = _NARROW_HEADERS.get(header, header) if narrow else header
        if header in _WHOLE:
            table.add_column(name, no_wrap=True)
        elif header.startswith("speedup"):
            table.add_column(name, overflow="fold", min_width=len("[0.00\u20130.00]"))
        else:
            table.add_column(name, overflow="fold", ratio=1, min_width=max(10, len(name)))
    return table


def make_console(stderr: bool = True):
    """A command's console (the run's on stderr). Piped (logs, CI), the tables get 140 columns
    unless COLUMNS says otherwise; on a terminal, its width. Text is never read for :emoji:
    codes (a function named `boom` stays `boom`); escape user text against markup."""
    from rich.console import Console

    console = Console(stderr=stderr, emoji=False)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        console.width = max(console.width, 140)
    return console


def time_left_column(min_done: int = 3):
    """A progress column "left H:MM:SS", or "left ?" until ``min_done`` steps are done: the
    first cells (calibration, pool start-up) say nothing of the pace of the rest, and rich's own
    column would show "left 0:00:01" from a single step."""
    from rich.progress import ProgressColumn, TimeRemainingColumn
    from rich.text import Text

    class TimeLeftColumn(ProgressColumn):
        def __init__(self) -> None:
            super().__init__()
            self._remaining = TimeRemainingColumn()

        def render(self, task) -> Text:
            if task.completed < min_done or task.time_remaining is None:
                return Text("left ?", style="progress.remaining")
            shown = self._remaining.render(task)
            return Text(f"left {shown.plain}", style="progress.remaining")

    return TimeLeftColumn()
