"""Decoding a stored raw body again, with the decoder the runner used, to check a turn's text.

The runner stores both what the endpoint sent (the raw body) and the text it
read out of it. ``verify`` asks here for the text those bytes decode to, using
the same adapter kind's :class:`~app.targets.decoder.Decoder` and the same
framers (:mod:`app.targets.sse`) as the live stream, so a stored text that
was edited afterwards no longer matches its bytes. Nothing here opens a
connection: the adapter is built only to ask for its decoder.
"""

from __future__ import annotations

import importlib
from typing import Any

from app.targets.common import TargetFault
from app.targets.decoder import Decoder
from app.targets.sse import NDJSONFramer, SSEFramer

_NOWHERE = "http://127.0.0.1:9"  # never contacted: building an adapter needs a base URL


def decoder_for(snapshot: dict[str, Any] | None) -> Decoder | None:
    """A fresh decoder for the system snapshot a run recorded, or None when it cannot be rebuilt."""
    from app.formats.engagement import TargetSpec
    from app.targets.factory import ADAPTERS

    target = (snapshot or {}).get("target")
    if not isinstance(target, dict) or target.get("kind") not in ADAPTERS:
        return None
    fields = set(TargetSpec.model_fields)
    try:
        spec = TargetSpec.model_validate({k: v for k, v in target.items() if k in fields and k != "api_key"})
        spec = spec.model_copy(update={"base_url": spec.base_url or _NOWHERE})
        module_name, class_name = ADAPTERS[spec.kind]
        adapter = getattr(importlib.import_module(module_name), class_name)(spec, api_key="replay")
        return adapter.decoder()
    except (ValueError, TypeError, TargetFault):
        return None


def replay_text(snapshot: dict[str, Any] | None, body: bytes) -> str | None:
    """The text ``body`` decodes to, as the runner read it; None when that cannot be said.

    A fault part-way (a bad chunk, an error event) ends the text where the
    runner's stream ended it. A whole JSON body is read as the adapter reads a
    server that ignored ``stream: true``.
    """
    decoder = decoder_for(snapshot)
    if decoder is None:
        return None
    try:
        if decoder.framing == "json" or body.lstrip().startswith(b"{") and decoder.framing == "sse":
            return decoder.whole(body) or ""
    except TargetFault:
        return None
    framer = SSEFramer() if decoder.framing == "sse" else NDJSONFramer()
    parts: list[str] = []
    try:
        for name, data in framer.feed(body) + framer.flush():
            if decoder.done:
                break
            text = decoder.event(name, data)
            if text:
                parts.append(text)
    except TargetFault:
        pass
    return "".join(parts)
