"""The one way seqstack makes Rich consoles, and prints a failure.

User text (sample IDs, paths, workflow and stack names, option values) goes into tables and
messages all over the command line. Rich would read ``[/x]`` in it as markup (a MarkupError, or
text silently dropped: ``run[red].csv`` printed as ``run.csv``) and ``:cloud:`` as an emoji code
(``seqstack:cloud`` printed as ``seqstack☁``). Every console comes from :func:`console`, which
reads no markup, no emoji codes and highlights nothing, so whatever a user typed is printed as
typed; styling is given explicitly with ``style=`` or :class:`rich.text.Text`. A test checks that
no other module builds a ``Console``.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.text import Text


def console(stderr: bool = False) -> Console:
    """A console that prints strings literally: no markup, no emoji codes, no highlighting."""
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False)


def say(out: Console, text: str) -> None:
    """Print user-bearing ``text`` literally on ``out``, whatever console it is (a caller's or a
    test's may read markup): no markup, emoji codes or highlighting, no wrapping."""
    out.print(text, markup=False, emoji=False, highlight=False, soft_wrap=True)


def one_line(message: str) -> str:
    """``message`` on one line: line breaks inside it (a library's multi-line text) become ``; ``."""
    parts = [part.strip() for part in message.splitlines()]
    return "; ".join(part for part in parts if part) or "(no message)"


def print_error(message: str) -> None:
    """``error: <message>`` as exactly one line on stderr."""
    text = Text.assemble(("error:", "bold red"), " ", one_line(message))
    err = console(stderr=True)
    err.print(text, soft_wrap=True)
    sys.stderr.flush()
