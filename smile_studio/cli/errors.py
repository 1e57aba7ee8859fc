"""The one expected-failure type of the command line: printed as one line, exit code 2, never a traceback."""

from __future__ import annotations

EXIT_USAGE = 2


class CliError(Exception):
    """An expected failure: bad input, a missing file, an engine that cannot run; str(error) is the message."""
