"""Start-up: Home's first frame showing the engagements, against a bare Textual app; ``--version`` against Python.

A temporary store gets 20 engagements (systems, windows, a finding each).
Then, each sample in a fresh process (imports are the cost being measured),
interleaved, ``--runs`` times:

  (1) in a real terminal: ``tmux`` starts the real ``redline`` entry point
      (80x24 by default), and the pane is polled with ``capture-pane`` until
      the first engagement's name is on screen; the same for a bare Textual app
      drawing the same widgets (header, a 20-row table, a panel, a footer);
  (2) headless: from interpreter start to the first refresh after the Home
      table was filled, against the bare app's first refresh with its rows;
  (3) ``redline --version`` against ``python -c pass``, wall time.

Printed: the medians, their ratios, and one summary line. The goals (issue
"start-up near bare Textual"): Home first frame <= 1.3x the bare app,
``--version`` <= 3x ``python -c pass``.

    python bench/startup.py [--runs N] [--size 80x24]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENGAGEMENTS = 20
FIRST = "bench-eng-00"  # the first row: on screen whatever the terminal height

BARE_APP = r"""
import sys, time
t0 = time.perf_counter()
from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

HEADLESS = "--headless" in sys.argv

class First(Screen):
    def compose(self):
        yield Header(icon="◆"); yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Static("hello"); yield Footer(compact=True)
    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns("NAME", "CLIENT", "TYPE", "PERIOD", "NEXT WINDOW", "OPEN", "ALIGN")
        for i in range(ENGAGEMENTS):
            table.add_row(f"bench-eng-{i:02d}", "Bench Corp", "II", "2025-01-01 – 2025-12-31", "Q1 in 3d", "1 H", "4/4")
        table.focus()
        if HEADLESS:
            self.call_after_refresh(lambda: self.app.exit(time.perf_counter() - t0))

class Bare(App):
    def on_mount(self):
        self.push_screen(First())

app = Bare()
if HEADLESS:
    app.run(headless=True, size=(80, 24)); print(app.return_value)
else:
    app.run()
""".replace("ENGAGEMENTS", str(ENGAGEMENTS))

REDLINE_HEADLESS = r"""
import time; t0 = time.perf_counter()
from screens.app import RedlineApp
from screens.home import HomeScreen

filled = HomeScreen._fill
def _fill(self, rows, select=None, **kwargs):
    filled(self, rows, select, **kwargs)
    if rows:
        self.call_after_refresh(lambda: self.app.exit(time.perf_counter() - t0))
HomeScreen._fill = _fill

app = RedlineApp(); app.run(headless=True, size=(80, 24)); print(app.return_value)
"""


def build_store(home: str) -> None:
    """20 engagements with systems, quarterly windows and an open finding, through the store's own models."""
    env = dict(os.environ, REDLINE_HOME=home, PYTHONPATH=str(REPO))
    code = r"""
from datetime import date
from app.findings import create_finding
from app.store import session
from app.store.models import AISystem, Engagement, TestWindow
with session() as db:
    for i in range(ENGAGEMENTS):
        e = Engagement(name=f"bench-eng-{i:02d}", client="Bench Corp", audit_type="type2",
                       period_start=date(2025, 1, 1), period_end=date(2025, 12, 31))
        db.add(e); db.flush()
        db.add(AISystem(engagement_id=e.id, name="bot", target={"kind": "demo"}))
        db.add_all(TestWindow(engagement_id=e.id, name=f"Q{q}", start=date(2025, 3 * q - 1, 10),
                              end=date(2025, 3 * q - 1, 24)) for q in range(1, 5))
        create_finding(db, engagement_id=e.id, title="bench", severity="high", status="open", actor="bench")
""".replace("ENGAGEMENTS", str(ENGAGEMENTS))
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=REPO, timeout=300)


def tmux_first_frame(command: list[str], home: str, size: tuple[int, int], marker: str) -> float:
    """Seconds from starting ``command`` in a fresh tmux session until ``marker`` shows in its pane."""
    name = f"redline-bench-{os.getpid()}"
    env = dict(os.environ, REDLINE_HOME=home, PYTHONPATH=str(REPO), TERM="xterm-256color")
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    began = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]),
                    "-e", f"REDLINE_HOME={home}", "-e", f"PYTHONPATH={REPO}", *command], env=env, check=True)
    try:
        while time.perf_counter() - began < 60:
            shown = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout
            if marker in shown:
                return time.perf_counter() - began
            time.sleep(0.005)
        raise RuntimeError(f"{marker!r} never appeared; last pane:\n{shown}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def headless(code: str, home: str, *args: str) -> float:
    env = dict(os.environ, REDLINE_HOME=home, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def wall(command: list[str], home: str) -> float:
    env = dict(os.environ, REDLINE_HOME=home)
    began = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="80x24", help="terminal size for the tmux samples")
    parser.add_argument("--no-tmux", action="store_true", help="skip the real-terminal samples")
    args = parser.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    redline = str(BIN / "redline")
    use_tmux = not args.no_tmux and shutil.which("tmux") is not None
    samples: dict[str, list[float]] = {k: [] for k in ("tmux redline", "tmux bare", "headless redline",
                                                          "headless bare", "version", "python -c pass")}
    with tempfile.TemporaryDirectory(prefix="redline-bench-") as tmp:
        home = str(Path(tmp) / "home")
        build_store(home)
        bare_file = Path(tmp) / "bare.py"
        bare_file.write_text(BARE_APP)
        headless(REDLINE_HEADLESS, home)  # warm the file cache; the store's schema is current from here on
        for _ in range(args.runs):
            if use_tmux:
                samples["tmux redline"].append(tmux_first_frame([redline], home, size, FIRST))  # type: ignore[arg-type]
                samples["tmux bare"].append(tmux_first_frame([sys.executable, str(bare_file)], home, size,  # type: ignore[arg-type]
                                                             FIRST))
            samples["headless redline"].append(headless(REDLINE_HEADLESS, home))
            samples["headless bare"].append(headless(BARE_APP, home, "--headless"))
            samples["version"].append(wall([redline, "--version"], home))
            samples["python -c pass"].append(wall([sys.executable, "-c", "pass"], home))
    med = {k: statistics.median(v) for k, v in samples.items() if v}
    print(f"medians of {args.runs} interleaved fresh processes; {ENGAGEMENTS} engagements in the store; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    ratios: dict[str, float] = {}
    if use_tmux:
        ratios["home (tmux)"] = med["tmux redline"] / med["tmux bare"]
        print(f"  real terminal ({args.size}), first frame with the rows: redline {med['tmux redline'] * 1000:6.0f} ms,"
              f" bare Textual {med['tmux bare'] * 1000:6.0f} ms, ratio {ratios['home (tmux)']:.2f}x (goal <= 1.3x)")
    ratios["home (headless)"] = med["headless redline"] / med["headless bare"]
    print(f"  headless (80x24), first frame with the rows:   redline {med['headless redline'] * 1000:6.0f} ms,"
          f" bare Textual {med['headless bare'] * 1000:6.0f} ms, ratio {ratios['home (headless)']:.2f}x")
    ratios["--version"] = med["version"] / med["python -c pass"]
    print(f"  redline --version {med['version'] * 1000:6.0f} ms, python -c pass {med['python -c pass'] * 1000:6.0f} ms,"
          f" ratio {ratios['--version']:.2f}x (goal <= 3x)")
    print("SUMMARY start-up: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
