"""The live index inside the rules service: built from the registry at start, kept current after
every registry write (and every few seconds, for writes made by other replicas)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.index import MatchThresholds, RegistryIndex, RegistryRecord
from services.rules.registry.models import MatchVerdict, Organisation
from shared.db.session import Database

log = logging.getLogger(__name__)


def record_of(org: Organisation) -> RegistryRecord:
    parties = {(role, name) for c in org.certificates for role, name in
               (("applicant", c.applicant), ("manufacturer", c.manufacturer), ("factory", c.factory))
               if name and name != org.name}  # fmt: skip
    sites = [site.get("name", "") for site in org.sites or [] if site.get("name") and site.get("name") != org.name]
    parties |= {("site", name) for name in sites if "公司" in name or "厂" in name}
    return RegistryRecord(
        org_id=str(org.id), name=org.name, credit_code=org.credit_code, former_names=tuple(org.former_names),
        address=org.address, province=org.province, city=org.city, other_names=tuple(sorted(parties)),
    )  # fmt: skip


class LiveIndex:
    def __init__(self, db: Database, thresholds: MatchThresholds | None = None, every: float = 5.0) -> None:
        self.db = db
        self.index = RegistryIndex(thresholds or MatchThresholds())
        self.every = every
        self.dirty = True
        self._horizon: int | None = None  # the oldest transaction still running at the last read
        self._lock = asyncio.Lock()

    async def current(self) -> RegistryIndex:
        """The index, refreshed first if the registry changed in this process.

        A refresh in flight has already cleared `dirty` but may not have loaded what changed yet: wait
        for it (and catch up after it), or a signal could be matched against the index as it was."""
        if self.dirty or self._lock.locked():
            await self.refresh()
        return self.index

    async def refresh(self) -> int:
        """Load organisations changed since the last refresh, and every verdict; returns how many."""
        async with self._lock:
            self.dirty = False
            async with self.db.sessions() as session:
                changed, horizon = await self._changed(session)
                verdicts = (await session.scalars(select(MatchVerdict))).all()
            for org in changed:
                self.index.upsert(record_of(org))
            self._horizon = horizon
            self.index.verdicts = {(v.subject_key, str(v.organisation_id)): v.confirmed for v in verdicts}
            if changed:
                log.info("matcher index: %d organisations updated, %d in all", len(changed), len(self.index))
            return len(changed)

    async def _changed(self, session: AsyncSession) -> tuple[list[Organisation], int]:
        """Organisations written since the last read, and the horizon for the next one.

        The horizon is the oldest transaction still running, taken before the read: every transaction
        older than it has ended, so its writes are in this read. Newer ones may not be yet (a long
        import commits after a short edit that started later), so the next read asks again from the
        horizon; reading a row twice is harmless, missing one is not."""
        horizon = await session.scalar(text("SELECT (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint"))
        stmt = select(Organisation).order_by(Organisation.change_xid)
        if self._horizon is not None:
            stmt = stmt.where(Organisation.change_xid >= self._horizon)
        return list((await session.scalars(stmt)).all()), int(horizon)

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh periodically until stopped (writes made by other replicas reach this one)."""
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception:
                log.exception("matcher index refresh failed; keeping the current index")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
