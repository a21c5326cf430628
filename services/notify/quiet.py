"""Quiet hours for SMS: a text that falls in them waits for their end (email goes at once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time  # before start: the hours run over midnight (21:00-08:00)
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, zone: str) -> QuietHours:
        """`HH:MM-HH:MM` in the zone's local time, e.g. `21:00-08:00` in Asia/Shanghai."""
        try:
            first, last = (time.fromisoformat(part.strip()) for part in spec.split("-"))
        except ValueError as exc:
            raise ValueError(f"quiet hours {spec!r}: expected HH:MM-HH:MM") from exc
        if first == last:
            raise ValueError(f"quiet hours {spec!r}: start and end are the same")
        return cls(first, last, ZoneInfo(zone))

    def ends_after(self, now: datetime) -> datetime | None:
        """When the quiet hours `now` falls in end (an aware datetime), or None when it is not quiet."""
        local = now.astimezone(self.zone)
        at = local.time()
        over_midnight = self.end < self.start
        quiet = (at >= self.start or at < self.end) if over_midnight else (self.start <= at < self.end)
        if not quiet:
            return None
        day = local.date() + timedelta(days=1) if over_midnight and at >= self.start else local.date()
        return datetime.combine(day, self.end, tzinfo=self.zone)
