"""What `vitals run` and `vitals replay` print when a flow ends, and their exit status."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI's modules are imported for every command line; these only by a finished run
    from vitals.config import Settings
    from vitals.runner import RunSummary

UNREADABLE = "unreadable_file"


def input_problem(summary: RunSummary, settings: Settings) -> str | None:
    """One line when input files could not be read (each skipped as one dead letter, the other files were
    replayed), else None."""
    n = summary.rejected.get(UNREADABLE, 0)
    if not n:
        return None
    files = "1 input file" if n == 1 else f"{n:,} input files"
    rest = "nothing else was read" if summary.inputs == n else "the other files were replayed"
    return (f"{files} could not be read and {'was' if n == 1 else 'were'} skipped ({rest}); why: the "
            f"'{UNREADABLE}' entries in {settings.dead_letter_path}")


def finish_run(command: str, summary: RunSummary, settings: Settings) -> int:
    """Print the run's summary (stdout) and any input problem (stderr, one line); the exit status: 1 when an input
    file could not be read, so a script notices, else 0."""
    sys.stdout.write(summary.describe() + "\n")
    if summary.final_vitals is not None:
        sys.stdout.write(f"final vitals: {summary.final_vitals}\n")
    problem = input_problem(summary, settings)
    if problem is None:
        return 0
    sys.stderr.write(f"vitals {command}: error: {problem}\n")
    return 1
