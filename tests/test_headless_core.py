"""The core never loads the UI: importing every module under ``app/`` leaves textual and screens unloaded.

Run in a fresh interpreter, so nothing another test imported can hide a leak.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = r"""
import importlib, json, pkgutil, sys
import app

names = sorted(m.name for m in pkgutil.walk_packages(app.__path__, "app."))
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:  # reported, so a broken module cannot pass by not loading
        failed[name] = f"{type(exc).__name__}: {exc}"
ui = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "screens"))
print(json.dumps({"imported": names, "failed": failed, "ui": ui}))
"""


def test_importing_the_whole_core_loads_no_ui() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "app.alignment" in result["imported"] and "app.cli" in result["imported"]
    assert len(result["imported"]) > 20
    assert result["failed"] == {}
    assert result["ui"] == [], f"the core imported UI modules: {result['ui']}"


def test_the_probe_would_see_a_ui_import() -> None:
    """The same probe, on a module that does import textual, reports it (the check can fail)."""
    code = ("import sys, json, screens.widgets.prompt; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'screens'})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["screens", "textual"]
