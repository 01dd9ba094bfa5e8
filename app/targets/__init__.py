"""Target adapters: one per kind, all yielding :mod:`app.targets.base` events."""
