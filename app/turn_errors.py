"""The typed faults a turn can end with: one vocabulary for the side that records them and the sides that read them.

Target adapters classify what went wrong on the wire (``timeout``, ``rate_limited`` …);
the store keeps it on the turn; detectors (``transport``) and exports read it back. It lives
here, below all of them, so a detector can name an error type without knowing about
transports, and an export without knowing about the network.
"""

from __future__ import annotations

from typing import Literal, get_args

ErrorType = Literal["timeout", "connect", "rate_limited", "server_error", "stream_error", "malformed", "auth",
                    "client_error", "too_large", "tls"]
ERROR_TYPES: tuple[str, ...] = get_args(ErrorType)
