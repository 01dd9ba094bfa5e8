"""Cockpit start-up: time to Home's first frame, against a bare Textual app drawing the same widgets.

Each sample is a fresh interpreter (imports are the cost being measured),
running headless, from process start to the first refresh after the first
screen mounted. The store opens after that frame, in a worker, so it should
not show here; the ratio says how close Redline stays to bare Textual.

    python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BARE = r"""
import time; t0 = time.perf_counter()
from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

class First(Screen):
    def compose(self):
        yield Header(); yield DataTable(); yield Static("hello"); yield Footer()
    def on_mount(self):
        self.call_after_refresh(lambda: self.app.exit(time.perf_counter() - t0))

class Bare(App):
    def on_mount(self):
        self.push_screen(First())

app = Bare(); app.run(headless=True, size=(80, 24)); print(app.return_value)
"""

REDLINE = r"""
import time; t0 = time.perf_counter()
from screens.app import RedlineApp
from screens.home import HomeScreen

mounted = HomeScreen.on_mount
def on_mount(self):
    mounted(self)
    self.call_after_refresh(lambda: self.app.exit(time.perf_counter() - t0))
HomeScreen.on_mount = on_mount

app = RedlineApp(); app.run(headless=True, size=(80, 24)); print(app.return_value)
"""


def sample(code: str, home: str) -> float:
    env = dict(os.environ, REDLINE_HOME=home, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        sample(REDLINE, home)  # warm the OS file cache and create the store once
        bare = [sample(BARE, home) for _ in range(args.runs)]
        redline = [sample(REDLINE, home) for _ in range(args.runs)]
    b, r = statistics.median(bare), statistics.median(redline)
    print(f"first frame, median of {args.runs} fresh processes (80x24, headless)")
    print(f"  bare Textual app, same widgets: {b * 1000:7.1f} ms")
    print(f"  Redline Home:                   {r * 1000:7.1f} ms")
    print(f"  ratio Redline / bare:           {r / b:7.2f}x")


if __name__ == "__main__":
    main()
