"""The live index inside the rules service: built from the registry at start, kept current after
every registry write (and every few seconds, for writes made by other replicas).

A few changed organisations are upserted into the index in place (the next match waits for that: it
must see a write made just before it). A bulk change (an import: `BULK` organisations or more) is never
loaded under the lock: a new index is built beside the current one, from the whole registry, a page at
a time on the matcher's thread, while matching goes on against the current one, and then swapped in.
Meanwhile the process holds both (for a million organisations, twice the index's 1.3 GB).

Everything that reads or changes the index runs on the matcher's one thread (`matcher/thread.py`), never
on the event loop: loading a million organisations or screening a large file would otherwise hold every
other request, health checks included.

It lives with the registry, whose tables it reads; the matcher (names, the index) stays a library with no
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.index import MatchThresholds, RegistryIndex, RegistryRecord, paused_cycle_collector
from services.rules.matcher.thread import on_matcher_thread
from services.rules.tables import Certificate, MatchVerdict, Organisation
from shared.db.session import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
PAGE = 1000  # organisations read and indexed per step of a refresh
WAKE_GAP = 0.5  # seconds between refreshes the writes of this process start (they come in bursts)
BULK = 5_000  # changed organisations from which a refresh builds a new index beside the current one
FREEZE_AFTER = 10_000  # a refresh indexing this many organisations freezes the heap (see `refresh`)


def record_of(org: Any) -> RegistryRecord:
    """The index's record of an organisation: a row of `changed_rows`, or an Organisation with its
    certificates (`parties` is then read from them)."""
    if isinstance(org, Organisation):
        triples = [(c.applicant, c.manufacturer, c.factory) for c in org.certificates]
    else:
        triples = org.parties or []  # NULL: no certificates
    parties = {
        (role, name)
        for triple in triples
        for role, name in zip(_ROLES, triple, strict=True)
        if name and name != org.name
    }
    sites = [site.get("name", "") for site in org.sites or [] if site.get("name") and site.get("name") != org.name]
    parties |= {("site", name) for name in sites if "公司" in name or "厂" in name}
    return RegistryRecord(
        org_id=str(org.id),
        name=org.name,
        credit_code=org.credit_code,
        former_names=tuple(org.former_names or ()),
        address=org.address,
        province=org.province,
        city=org.city,
        other_names=tuple(sorted(parties)),
    )


_ROLES = ("applicant", "manufacturer", "factory")


def changed_rows(horizon: int | None) -> Any:
    """What the index needs of each organisation written since `horizon`, in plain columns (no ORM
    objects: building them for a million organisations would itself hold the event loop)."""
    parties = (
        select(
            func.jsonb_agg(func.jsonb_build_array(Certificate.applicant, Certificate.manufacturer, Certificate.factory))
        )
        .where(Certificate.organisation_id == Organisation.id)
        .scalar_subquery()
    )
    o = Organisation
    stmt = select(
        o.id, o.name, o.credit_code, o.former_names, o.address, o.province, o.city, o.sites, parties.label("parties")
    )
    return stmt if horizon is None else stmt.where(o.change_xid >= horizon).order_by(o.change_xid)


def _index_rows(index: RegistryIndex, rows: Sequence[Row[Any]]) -> None:
    for row in rows:
        index.upsert(record_of(row))


class LiveIndex:
    def __init__(self, db: Database, thresholds: MatchThresholds | None = None, every: float = 5.0) -> None:
        self.db = db
        self.thresholds = thresholds or MatchThresholds()
        self.index = RegistryIndex(self.thresholds)
        self.every = every
        self._dirty = True
        self._wake = asyncio.Event()  # a write in this process: the periodic refresh need not wait `every`
        self.rebuilt = 0  # how many times a new index was swapped in (after bulk changes)
        self._horizon: int | None = None  # the oldest transaction still running at the last read
        self._lock = asyncio.Lock()  # held by a refresh in place, never while a new index is built
        self._rebuild: asyncio.Task[None] | None = None

    @property
    def dirty(self) -> bool:
        """The registry changed in this process since the last refresh (set by the commit hook)."""
        return self._dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self._dirty = value
        if value:
            self._wake.set()

    async def current(self) -> RegistryIndex:
        """The index, refreshed first if the registry changed in this process.

        A refresh in flight has already cleared `dirty` but may not have loaded what changed yet: wait
        for it (and catch up after it), or a signal could be matched against the index as it was."""
        if self.dirty or self._lock.locked():
            await self.refresh()
        return self.index

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(index, *args)` on the matcher's thread, against the current index."""
        return await on_matcher_thread(fn, await self.current(), *args, **kwargs)

    async def refresh(self) -> int:
        """Load organisations changed since the last refresh, and every verdict; returns how many (0 when
        they are many: a new index is then being built beside this one, see `_rebuilt`).

        The rows are streamed a page at a time and indexed on the matcher's thread, so neither the
        loading nor the indexing holds the event loop for more than a page. The cyclic collector waits
        meanwhile: the index is many small objects and no cycles, and each full collection it would
        otherwise run stops every thread (four of 0.13-0.25 s while 10,000 organisations were indexed)."""
        async with self._lock:
            self.dirty = False
            if self._rebuild is not None or await self._bulk_pending():
                if self._rebuild is None:
                    self._rebuild = asyncio.create_task(self._rebuilt(), name="matcher index rebuild")
                return 0
            with paused_cycle_collector():
                changed, self._horizon = await self._load(self.index, self._horizon)
                if changed >= FREEZE_AFTER:
                    # The index is most of the heap now, and lives as long as the process: out of the
                    # collector's sight, or every later full collection would scan it again.
                    gc.freeze()
            if changed:
                log.info("matcher index: %d organisations updated, %d in all", changed, len(self.index))
            return changed

    async def _bulk_pending(self) -> bool:
        """Whether at least BULK organisations changed since the last read (never at the first load, nor
        into an empty index: there is nothing to go on matching against meanwhile)."""
        if self._horizon is None or len(self.index) == 0:
            return False
        since = select(Organisation.id).where(Organisation.change_xid >= self._horizon).limit(BULK).subquery()
        async with self.db.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(since)) or 0) >= BULK

    async def _rebuilt(self) -> None:
        """Build a new index from the whole registry beside the current one, then swap it in. Each page
        is one call on the matcher's thread, so matches (on the current index) go between them."""
        try:
            index = RegistryIndex(self.thresholds)
            with paused_cycle_collector():
                _, horizon = await self._load(index, None)
            self.index, self._horizon = index, horizon  # the swap: the next match uses the new index
            self.rebuilt += 1
            self.dirty = True  # catch up with what was written while it was built
            if len(index) >= FREEZE_AFTER:
                gc.freeze()
            log.info("matcher index: rebuilt beside the current one, %d organisations, swapped in", len(index))
        except Exception:
            log.exception("matcher index rebuild failed; keeping the current index")
        finally:
            self._rebuild = None

    async def _load(self, into: RegistryIndex, since: int | None) -> tuple[int, int]:
        """Into `into`: the organisations written since the horizon `since` (all of them with None), and
        every verdict; how many were loaded, and the horizon of this read."""
        changed = 0
        async with self.db.sessions() as session:
            horizon = await self._horizon_now(session)
            result = await session.stream(changed_rows(since))
            # The next page is read while the matcher's thread indexes this one (PostgreSQL and the
            # indexing then use a core each).
            indexing: asyncio.Future[None] | None = None
            try:
                async for page in result.partitions(PAGE):
                    if indexing is not None:
                        await indexing
                    indexing = asyncio.ensure_future(on_matcher_thread(_index_rows, into, page))
                    changed += len(page)
            finally:
                if indexing is not None:
                    await indexing
            verdicts = (
                await session.execute(
                    select(MatchVerdict.subject_key, MatchVerdict.organisation_id, MatchVerdict.confirmed)
                )
            ).all()
        into.verdicts = {(key, str(org)): confirmed for key, org, confirmed in verdicts}
        return changed, horizon

    @staticmethod
    async def _horizon_now(session: AsyncSession) -> int:
        """The oldest transaction still running, taken before the read.

        Every transaction older than it has ended, so its writes are in this read. Newer ones may not
        be yet (a long import commits after a short edit that started later), so the next read asks
        again from the horizon; reading a row twice is harmless, missing one is not."""
        return int(await session.scalar(text("SELECT (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")))

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh periodically until stopped (writes made by other replicas reach this one), and soon after
        a write in this process (an import's bulk change is then being built into a new index before a
        signal asks for it)."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.refresh()
            except Exception:
                log.exception("matcher index refresh failed; keeping the current index")
            stopped, woken = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())
            try:
                done, _ = await asyncio.wait((stopped, woken), timeout=self.every, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                woken.cancel()
            if woken in done and not stop.is_set():
                await asyncio.sleep(WAKE_GAP)  # a burst of writes: one refresh
        if self._rebuild is not None:
            self._rebuild.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rebuild
