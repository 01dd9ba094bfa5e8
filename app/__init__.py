"""Redline's headless core: store, catalog, formats, targets, runner, detectors, evidence.

Nothing under ``app`` imports textual; the cockpit lives in ``screens``.
"""

__version__ = "0.1.0"
