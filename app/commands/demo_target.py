"""``redline demo-target``: run the built-in demo AI system in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo-target",
        help="run the built-in demo AI system (Acme Support) on loopback",
        description="Serve the demo AI system, an OpenAI-compatible endpoint with deliberate weaknesses "
        "(or none, with --hardened), for training, demos and remediation re-tests. Ctrl-C stops it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8750,
                        help="port to listen on; 0 picks a free one (default: 8750)")
    parser.add_argument("--hardened", action="store_true",
                        help="serve the remediated system that resists every weakness")
    parser.add_argument("--model-version", default="1", metavar="V",
                        help="model build to report; changing it changes the fingerprint and a few answers (default: 1)")
    parser.add_argument("--chunk-delay-ms", type=float, default=3.0, metavar="MS",
                        help="pause between streamed words (default: 3)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback --host (the demo has no real security)")
    parser.add_argument("--quiet", action="store_true", help="don't log one line per request")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.demo.server import DEMO_API_KEY, DEMO_REVOKED_KEY, check_host, start_demo_server
    from app.errors import UsageError

    check_host(args.host, args.allow_remote)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535, not {args.port}")
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        server = start_demo_server(args.host, args.port, args.hardened, model_version=args.model_version,
                                   chunk_delay=max(0.0, args.chunk_delay_ms) / 1000, log=log)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    mode = "hardened" if args.hardened else "vulnerable"
    print(f"Demo AI system (Acme Support, {mode}, model build {args.model_version}) at {server.base_url}", flush=True)
    print(f"API key: {DEMO_API_KEY}   revoked key: {DEMO_REVOKED_KEY}   Ctrl-C stops it.", flush=True)
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    print("Demo AI system stopped.", flush=True)
    return 0
