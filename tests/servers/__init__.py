"""Real loopback servers for tests: scripted bytes, scripted faults, on 127.0.0.1 only.

- ``loopback.LoopbackServer``: the server (background thread, free port, per-path reply queues).
- ``stream_server``: recorded-style streams for openai, anthropic, ollama and the generic http kind.
- ``fault_server``: refused connections, 429/5xx, resets, malformed chunks, stalls, huge bodies.
- ``fixtures``: the ``stream_server`` and ``fault_server`` pytest fixtures (a started server each).
"""
