"""Running ``redline`` in a child process and reading its peak memory (for the hostile-endpoint checks).

The child runs the real CLI and, as it exits, writes its own peak resident
set size (``VmHWM``) to stderr as ``REDLINE_PEAK_RSS_KB=<n>``: the one
number the kernel keeps exactly, with no sampling to miss a short spike.
While it runs, the parent watches its current RSS and kills it past a safety
ceiling, so a client with no limits cannot take the machine down with it.
Used by the tests and by ``bench/hostile.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MARK = "REDLINE_PEAK_RSS_KB="
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child forked from a large parent (a
# long test session) would report the parent's size; VmHWM belongs to the new program's memory alone.
_CHILD = (
    "import re, resource, sys\n"
    "from app.cli import main\n"
    "def peak_kb():\n"
    "    try:\n"
    "        found = re.search(r'^VmHWM:\\s+(\\d+)', open('/proc/self/status').read(), re.M)\n"
    "    except OSError:\n"
    "        found = None\n"
    "    return int(found.group(1)) if found else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "finally:\n"
    f"    print('{MARK}%d' % peak_kb(), file=sys.stderr, flush=True)\n"
    "sys.exit(code)\n"
)


@dataclass(frozen=True)
class Peak:
    returncode: int
    peak_mb: float  # the child's own peak RSS; its ceiling-watch figure if it was killed first
    seconds: float
    killed: bool  # the child passed the safety ceiling and was killed
    stdout: str
    stderr: str


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
    return int(found.group(1)) if found else 0


def run_with_peak(args: Sequence[str], *, cwd: Path | None = None, ceiling_mb: float = 1500,
                  timeout: float = 120, env: dict[str, str] | None = None) -> Peak:
    """``redline ARGS`` in a child process; its exit code, peak RSS and wall time."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, *args], cwd=cwd, env=env or os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched, killed = 0, False
    try:
        while proc.poll() is None:
            watched = max(watched, _rss_kb(proc.pid))
            if watched > ceiling_mb * 1024 or time.perf_counter() - started > timeout:
                killed = True
                proc.kill()
                break
            time.sleep(0.02)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seconds = time.perf_counter() - started
    reported = re.search(re.escape(MARK) + r"(\d+)", err)
    peak_kb = int(reported.group(1)) if reported else watched
    return Peak(proc.returncode, peak_kb / 1024, seconds, killed, out, err)
