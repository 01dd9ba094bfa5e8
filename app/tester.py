"""Who is at the keyboard: the tester's configured name.

``REDLINE_TESTER`` when set (a shared machine, a CI job named for its owner), else
the OS login. Every audit event and every signing key is named by it; it has a
module of its own because both the store and the signing keys ask, and neither
should have to import the other to know.
"""

from __future__ import annotations


def name() -> str:
    """The tester's name: ``REDLINE_TESTER``, else the OS login."""
    import getpass
    import os

    return os.environ.get("REDLINE_TESTER") or getpass.getuser()
