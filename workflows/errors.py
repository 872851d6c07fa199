"""The one base class of every failure a user can fix by changing what they gave seqstack.

A sample sheet, a stack outputs file, an option, a price table, a storage location: when one of
these is wrong, the code that finds it raises a subclass of :class:`UserError` whose message
names the file, key, sample or row at fault. The command line (``seqstack.cli``) catches
``UserError`` in one place and prints ``error: <message>`` as one line on stderr, with the
error's :attr:`~UserError.exit_code`; nothing else prints user-facing failures.
"""

from __future__ import annotations


class UserError(Exception):
    """A failure the user can fix; its message is one line naming what is at fault."""

    exit_code: int = 2
    """Exit code of the command that ends with this error (2: bad input or usage)."""
