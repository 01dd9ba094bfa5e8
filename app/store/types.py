"""Column types that SQLite does not have natively."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.types import String, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes stored as ISO 8601 text.

    SQLite drops tzinfo from plain DateTime columns, so values read back would
    compare unequal to what was hashed into the audit chain. Storing the exact
    ISO text keeps a round trip lossless and sortable.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
