"""Consoles for headless output, and the Unix manners of a command whose reader went away.

A Rich console that is not writing to a terminal assumes 80 columns and wraps
or cuts table cells to fit: piped into a file, ``grep`` or a CI log, ids and
states came out as "api-privileg…" and "retest_faile d". Output that is not a
terminal has no width to fit, so it gets a width no row reaches, and every
table sizes its columns to their content. A terminal keeps its real width.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# Wider than any row we print: a pipe never cuts an id, a state or a reason.
PIPE_WIDTH = 10_000
# What a shell reports for a process ended by SIGPIPE (128 + 13), as `yes | head -1` does.
EXIT_CLOSED_PIPE = 141


def console(*, stderr: bool = False, **options: Any) -> Console:
    """A Rich console for ``stdout`` (or ``stderr``): the terminal's width, or no limit on a pipe."""
    from rich.console import Console

    class PipeAwareConsole(Console):
        def on_broken_pipe(self) -> None:
            # Rich would exit 1 itself; the CLI's one handler decides how a closed pipe ends.
            self.quiet = True
            raise BrokenPipeError

    stream = sys.stderr if stderr else sys.stdout
    is_terminal = bool(getattr(stream, "isatty", lambda: False)())
    if not is_terminal and "width" not in options:
        options["width"] = PIPE_WIDTH
    return PipeAwareConsole(stderr=stderr, **options)


def silence_closed_stdout() -> int:
    """After ``BrokenPipeError`` on stdout: stop writing to it and return the SIGPIPE exit code.

    The reader (``head``, ``less`` quitting) has what it wanted; a traceback or a
    second error at interpreter exit (when Python flushes stdout) would be noise.
    Pointing stdout at /dev/null makes that final flush harmless.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout already closed or not a real file: nothing left to protect
        pass
    return EXIT_CLOSED_PIPE
