"""Detectors: pure functions of a turn. See :mod:`app.detectors.base` for the contract."""
