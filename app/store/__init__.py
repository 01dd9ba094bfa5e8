"""The store (the embedded SQLite file, or a shared PostgreSQL server): tables, lazy engine, schema steps, audit chain."""

from app.store.engine import dispose_all, get_engine, session

__all__ = ["dispose_all", "get_engine", "session"]
