"""Real loopback servers for tests: scripted bytes, scripted faults, on 127.0.0.1 only.

- ``loopback.LoopbackServer``: the server (background thread, free port, per-path reply queues).
- ``stream_server``: recorded-style streams for openai, anthropic, ollama and the generic http kind.
- ``fault_server``: refused connections, 429/5xx, resets, malformed chunks, stalls, huge bodies.
- ``hostile``: endpoints built to exhaust the client (endless stream, endless line, gzip bomb) and a
  model that echoes the caller's key a few characters per frame.
- ``peak``: ``redline`` in a child process that reports its own peak RSS (memory tests, bench/hostile.py).
- ``fixtures``: the ``stream_server`` and ``fault_server`` pytest fixtures (a started server each).
"""
