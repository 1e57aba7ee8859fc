"""The ``smile-studio`` command: the GUI by default, plus headless subcommands sharing the same core."""

from .main import main

__all__ = ["main"]
