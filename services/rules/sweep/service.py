"""The campaign sweep (DESIGN §11, issue 16): every organisation and certificate in the registry screened
against every stored signal of the window and the lists in force, a risk ranking with its reasons, and the
risk events the nightly flow would have raised, raised now if they are missing.

It streams: ingest's signals a page at a time, matched on the matcher's thread against the live index
(the whole registry), and only pages that hit someone touch the database, in one transaction each. The
events are raised by the replay path (`screening.service.replay`, the nightly screening itself), and only for
signals whose events are not all there yet: event ids are deterministic, so a second sweep raises nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.matcher.index import Candidate, RegistryIndex
from services.rules.matcher.relevance import product_in_scope
from services.rules.matcher.thread import LiveMatcher, on_matcher_thread
from services.rules.ruleset.rules import SEVERITY_ORDER
from services.rules.ruleset.service import Outcome, evaluate
from services.rules.ruleset.weighting import LISTINGS, ruleset_manifest, ruleset_version
from services.rules.screening import service as screening
from services.rules.screening.service import ACTIVE, best_candidates
from services.rules.sweep import repository
from services.rules.sweep.models import Sweep, SweepHit, SweepRanking
from services.rules.sweep.ranking import Hit, listing_key, rank
from services.rules.sweep.repository import Held
from services.rules.sweep.signals import SignalSource, fraction_through
from shared.contracts import deterministic_id
from shared.contracts.ingest import Party, SignalReceivedV2
from shared.contracts.rules import MatchDecision
from shared.db.session import Database
from shared.errors import Conflict, InvalidInput
from shared.kafka.outbox import Outbox

log = logging.getLogger(__name__)

EVER = date(1970, 1, 1)  # the lists in force are read from the first stored signal on
STALE = timedelta(minutes=10)  # an active sweep that reported nothing for this long was interrupted
SCREENING_SHARE = 0.95  # of the progress bar; ranking is the rest
_WINDOW = re.compile(r"^\s*(\d{1,3})\s*([ymd])\s*$", re.IGNORECASE)


def window_start(as_of: date, window: str) -> date:
    """The first day of a window such as `3y`, `18m` or `90d` ending on `as_of` (calendar years and months)."""
    found = _WINDOW.match(window)
    if not found:
        raise InvalidInput(f"window {window!r}: a number and y, m or d, e.g. 3y, 18m, 90d")
    n, unit = int(found[1]), found[2].lower()
    if unit == "d":
        return as_of - timedelta(days=n)
    months = as_of.year * 12 + as_of.month - 1 - (n * 12 if unit == "y" else n)
    year, month = divmod(months, 12)
    for day in (as_of.day, 30, 29, 28):  # 29 February, 31 March … to the month's last day
        try:
            return date(year, month + 1, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def signal_date(signal: SignalReceivedV2) -> date | None:
    """When a signal happened: its listing or removal date for a list, else its publication."""
    detail = signal.detail
    if signal.kind in LISTINGS:
        listed = LISTINGS[signal.kind][1]
        return (detail.listed_on if listed else detail.removed_on) or signal.published_on
    return signal.published_on


def screened(signal: SignalReceivedV2, since: date, as_of: date) -> bool:
    """In the window, or (a list, a licence or CCC status) part of the lists in force at `as_of`.
    An undated signal is screened: what it says is not known to be old."""
    on = signal_date(signal)
    if on is None:
        return True
    return on <= as_of and (on >= since or signal.kind in LISTINGS)


# --- starting ----------------------------------------------------------------------------------------------


async def create(session: AsyncSession, requested_by: str, as_of: date, window: str) -> Sweep:
    """A queued sweep (409 while another is queued or running: the unique `active` flag)."""
    since = window_start(as_of, window)
    await repository.interrupt_stale(session, datetime.now(UTC) - STALE)
    running = await repository.active(session)
    if running is not None:
        raise Conflict(f"sweep {running.id} is {running.status} (asked for by {running.requested_by}): one at a time")
    sweep = Sweep(
        id=uuid.uuid4(),
        status="queued",
        active=True,
        requested_by=requested_by,
        as_of=as_of,
        window=window,
        since=since,
        ruleset_version=ruleset_version(),
        ruleset=ruleset_manifest(),
        phase="queued",
        progress=0.0,
        organisations=0,
        certificates=0,
        signals_read=0,
        signals=0,
        hits=0,
        organisations_hit=0,
        events_raised=0,
        coverage={},
    )
    session.add(sweep)
    await session.flush()
    return sweep


# --- running -----------------------------------------------------------------------------------------------


@dataclass
class Source:
    """What the sweep read from one feed (the report's data sources)."""

    kinds: set[str] = field(default_factory=set)
    signals: int = 0
    first_on: date | None = None
    last_on: date | None = None

    def add(self, signal: SignalReceivedV2, on: date | None) -> None:
        self.kinds.add(signal.kind.value)
        self.signals += 1
        if on is not None:
            self.first_on = on if self.first_on is None else min(self.first_on, on)
            self.last_on = on if self.last_on is None else max(self.last_on, on)


@dataclass
class Found:
    """An organisation's hits so far, and its active certificate types (for the ranking)."""

    types: tuple[str, ...]
    hits: list[Hit] = field(default_factory=list)


@dataclass
class Run:
    """A sweep in progress: its counts, its hits by organisation, its data sources."""

    sweep_id: uuid.UUID
    as_of: date
    since: date
    signals_read: int = 0
    signals: int = 0
    hits: int = 0
    events_raised: int = 0
    progress: float = 0.0
    found: dict[uuid.UUID, Found] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    spent: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # seconds per part: the log

    def counts(self) -> dict[str, Any]:
        return {
            "signals_read": self.signals_read,
            "signals": self.signals,
            "hits": self.hits,
            "organisations_hit": len(self.found),
            "events_raised": self.events_raised,
        }


@dataclass(frozen=True)
class Pair:
    """A signal matched to an organisation: by the matcher (candidate), or by a certificate's number."""

    signal: SignalReceivedV2
    organisation_id: uuid.UUID
    candidate: Candidate | None
    party: Party | None


@dataclass(frozen=True)
class Matched:
    """A page after matching: its pairs, its signals naming a certificate number, how far through it is."""

    pairs: list[Pair]
    numbered: dict[str, list[SignalReceivedV2]]
    progress: float


class Sweeper:
    """Runs one sweep: `await Sweeper(...).run()`. Commits its own short transactions (it is a job, not a
    request); `published` is called after each commit that queued events (the relay sends them)."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        live: LiveMatcher,
        source: SignalSource,
        sweep_id: uuid.UUID,
        published: Callable[[], None] = lambda: None,
        report_every: float = 2.0,
        writers: int = 3,
    ) -> None:
        self.db, self.outbox, self.live, self.source = db, outbox, live, source
        self.sweep_id, self.published, self.report_every, self.writers = sweep_id, published, report_every, writers

    async def run(self) -> None:
        started, clock = datetime.now(UTC), time.monotonic()
        async with self.db.transaction() as session:
            sweep = await repository.get(session, self.sweep_id)
            assert sweep is not None, f"no sweep {self.sweep_id}"
            coverage = await repository.coverage(session)
            await repository.set_fields(
                session,
                self.sweep_id,
                status="running",
                phase="screening",
                started_at=started,
                heartbeat_at=started,
                organisations=coverage["organisations"],
                certificates=coverage["certificates"],
                coverage=coverage,
            )
            run = Run(self.sweep_id, sweep.as_of, sweep.since)
        await self._screen_all(run, await self.live.current())
        await self._report(run, "ranking", progress=SCREENING_SHARE)
        ranking = time.monotonic()
        await self._rank(run)
        run.spent["ranking"] += time.monotonic() - ranking
        seconds = round(time.monotonic() - clock, 3)
        coverage["sources"] = self._sources(run, await self.source.snapshots())
        await self._report(
            run,
            "done",
            progress=1.0,
            status="succeeded",
            active=None,
            finished_at=datetime.now(UTC),
            seconds=seconds,
            coverage=coverage,
        )
        spent = {**run.spent, **getattr(self.source, "spent", {})}
        spent_text = ", ".join(f"{what} {s:.1f} s" for what, s in spent.items())
        skipped = getattr(self.source, "corrections_skipped", 0)  # signals.py: corrections are not screened
        log.info(
            "sweep %s: %s in %.1f s (%s); %d corrections skipped",
            self.sweep_id,
            run.counts(),
            seconds,
            spent_text,
            skipped,
        )

    async def fail(self, error: str) -> None:
        async with self.db.transaction() as session:
            await repository.set_fields(
                session,
                self.sweep_id,
                status="failed",
                active=None,
                error=error[:2000],
                finished_at=datetime.now(UTC),
                phase="failed",
            )

    async def _report(self, run: Run, phase: str, progress: float | None = None, **values: Any) -> None:
        async with self.db.transaction() as session:
            await repository.set_fields(
                session,
                self.sweep_id,
                phase=phase,
                progress=round(run.progress if progress is None else progress, 4),
                heartbeat_at=datetime.now(UTC),
                **run.counts(),
                **values,
            )

    async def _screen_all(self, run: Run, index: RegistryIndex) -> None:
        """Pages are read and matched (on the matcher's thread) by one task while `writers` tasks write the
        hits of earlier pages, each page in a transaction of its own, so reading, matching and the database
        round trips overlap. Pages are independent: a signal is in one page, and the order in which they
        are written was never the signals' order (pages go by id)."""
        matched: asyncio.Queue[Matched | None] = asyncio.Queue(maxsize=2 * self.writers)
        tasks = [asyncio.create_task(self._match_pages(run, index, matched))]
        tasks += [asyncio.create_task(self._write_pages(run, index, matched)) for _ in range(self.writers)]
        try:
            pending: set[asyncio.Task[None]] = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, timeout=self.report_every, return_when="FIRST_EXCEPTION")
                for task in done:
                    task.result()  # a failure ends the sweep
                await self._report(run, "screening")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _write_pages(self, run: Run, index: RegistryIndex, pages: asyncio.Queue[Matched | None]) -> None:
        while (page := await pages.get()) is not None:
            if page.pairs or page.numbered:
                started = time.monotonic()
                await self._record(run, index, page)
                run.spent["recording"] += time.monotonic() - started
            run.progress = max(run.progress, page.progress)

    async def _match_pages(self, run: Run, index: RegistryIndex, out: asyncio.Queue[Matched | None]) -> None:
        try:
            pages = aiter(self.source.pages(EVER))
            while True:
                waited = time.monotonic()
                page = await anext(pages, None)
                run.spent["waiting for ingest"] += time.monotonic() - waited
                if page is None:
                    break
                run.signals_read += len(page)
                window = [s for s in page if screened(s, run.since, run.as_of)]
                run.signals += len(window)
                for signal in window:
                    run.sources.setdefault(signal.feed, Source()).add(signal, signal_date(signal))
                started = time.monotonic()
                found = await on_matcher_thread(_match_all, index, window) if window else []
                run.spent["matching"] += time.monotonic() - started
                pairs = [
                    Pair(s, uuid.UUID(org), c, p)
                    for s, hits in zip(window, found, strict=True)
                    for org, (c, p) in hits.items()
                ]
                numbered: dict[str, list[SignalReceivedV2]] = {}
                for signal in window:
                    if signal.detail.certificate_no:
                        numbered.setdefault(signal.detail.certificate_no, []).append(signal)
                await out.put(Matched(pairs, numbered, SCREENING_SHARE * fraction_through(page[-1].signal_id)))
        finally:
            for _ in range(self.writers):
                await out.put(None)

    async def _record(self, run: Run, index: RegistryIndex, page: Matched) -> None:
        """A page's hits written, its missing events raised (through the replay path), ranking facts kept."""
        async with self.db.transaction() as session:
            pairs = page.pairs + await _by_certificate_number(
                session, page.numbered, {(p.signal.signal_id, p.organisation_id) for p in page.pairs}
            )
            held = await repository.certificates_held(session, {p.organisation_id for p in pairs})
            rows: list[dict[str, Any]] = []
            wanted: dict[uuid.UUID, tuple[SignalReceivedV2, list[uuid.UUID]]] = {}
            for pair in pairs:
                certificates = held.get(pair.organisation_id)
                if certificates is None:
                    continue  # removed since the index last saw it
                row, ids = _hit_row(run, pair, certificates)
                rows.append(row)
                if ids:
                    wanted.setdefault(pair.signal.signal_id, (pair.signal, []))[1].extend(ids)
            existing = await repository.existing_events(session, [i for _, ids in wanted.values() for i in ids])
            missing = [signal for signal, ids in wanted.values() if any(i not in existing for i in ids)]
            # In the order they happened, as the nightly flow met them: a removal after the listing it corrects
            # links to it rather than raising an event of its own (pages are in id order, which is no order).
            missing.sort(key=lambda signal: signal_date(signal) or date.min)
            raised = 0
            if missing:  # the nightly screening itself, with the organisations loaded for it in one go
                raising = {signal.signal_id for signal in missing}
                orgs = {p.organisation_id for p in pairs if p.signal.signal_id in raising}
                loaded = await repository.organisations(session, orgs)  # kept: the session holds them weakly
                raised = await screening.replay(session, self.outbox, index, missing)
                del loaded
            for row in rows:
                row["raised"] = row["event_id"] is not None and row["event_id"] not in existing
            await repository.add_rows(session, SweepHit, rows)
        run.hits += len(rows)
        run.events_raised += raised
        if raised:
            self.published()

    async def _rank(self, run: Run) -> None:
        ranked = [(org_id, found, rank(found.hits, found.types, run.as_of)) for org_id, found in run.found.items()]
        ranked.sort(key=lambda r: (-r[2].score, str(r[0])))
        rows = [
            {
                "sweep_id": run.sweep_id,
                "organisation_id": org_id,
                "rank": n,
                "score": r.score,
                "band": r.band,
                "hits": len(found.hits),
                "in_force": list(r.in_force),
                "reasons": [x.as_json() for x in r.reasons],
            }
            for n, (org_id, found, r) in enumerate(ranked, start=1)
        ]
        async with self.db.transaction() as session:
            await repository.add_rows(session, SweepRanking, rows)

    @staticmethod
    def _sources(run: Run, snapshots: dict[str, str]) -> list[dict[str, Any]]:
        """Each feed the sweep read: its kinds, signals, first and last signal date, last run (snapshot)."""
        return [
            {
                "feed": feed,
                "kinds": sorted(s.kinds),
                "signals": s.signals,
                "first_on": s.first_on and s.first_on.isoformat(),
                "last_on": s.last_on and s.last_on.isoformat(),
                "snapshot_at": snapshots.get(feed),
            }
            for feed, s in sorted(run.sources.items())
        ]


def _match_all(index: RegistryIndex, signals: list[SignalReceivedV2]) -> list[dict[str, tuple[Candidate, Party]]]:
    """Every signal of a page matched at once on the matcher's thread (one hop per page, not per signal)."""
    return [best_candidates(index, signal) for signal in signals]


async def _by_certificate_number(
    session: AsyncSession, numbered: dict[str, list[SignalReceivedV2]], matched: set[tuple[uuid.UUID, uuid.UUID]]
) -> list[Pair]:
    """Status signals naming a certificate the registry holds: its holder, when the name did not find it."""
    if not numbered:
        return []
    holders = await repository.certificate_holders(session, numbered)
    return [
        Pair(signal, org, None, None)
        for number, org in holders.items()
        for signal in numbered[number]
        if (signal.signal_id, org) not in matched
    ]


def _relevance(signal: SignalReceivedV2, held: Held) -> bool | None:
    product = signal.product
    if product is None:
        return None
    verdicts = [
        product_in_scope(product.name, product.model, scope, list(products))
        for _, _, scope, products in held.certificates
    ]
    return True if True in verdicts else (False if False in verdicts else None)


def _hit_row(run: Run, pair: Pair, held: Held) -> tuple[dict[str, Any], list[uuid.UUID]]:
    """The hit's row, its ranking facts (kept in `run`), and the ids of the events the rules call for."""
    signal, candidate, org_id = pair.signal, pair.candidate, pair.organisation_id
    types = held.active_types(ACTIVE)
    decision = candidate.decision if candidate else MatchDecision.MATCH
    in_scope = _relevance(signal, held)
    outcomes = evaluate(signal.kind, decision, list(types), 0, run.as_of)
    top: Outcome | None = max(outcomes, key=lambda o: SEVERITY_ORDER.index(o.severity), default=None)
    ids = [deterministic_id("risk-event", signal.signal_id, org_id, o.rule.id) for o in outcomes]
    on = signal_date(signal)
    found = run.found.setdefault(org_id, Found(types))
    found.hits.append(
        Hit(
            signal.kind,
            top.severity if top else None,
            on,
            decision,
            in_scope,
            listing_key(signal.kind, signal.detail.certificate_no),
        )
    )
    product = signal.product
    row = {
        "sweep_id": run.sweep_id,
        "signal_id": signal.signal_id,
        "organisation_id": org_id,
        "signal_kind": signal.kind.value,
        "feed": signal.feed,
        "signal_on": on,
        "subject_name": (pair.party.name if pair.party else signal.subject.name)[:300],
        "party_role": pair.party and (pair.party.role_label or pair.party.role),
        "product": (product and " ".join(filter(None, (product.name, product.model)))) or None,
        "bulletin_no": signal.detail.bulletin_no,
        "certificate_no": signal.detail.certificate_no,
        "match_decision": decision.value,
        "match_method": candidate.method if candidate else "certificate_no",
        "match_score": candidate.score if candidate else 1.0,
        "product_in_scope": in_scope,
        "rule_id": top and top.rule.id,
        "severity": top and top.severity.value,
        "recommended_measure": top and top.measure.value,
        # A certificate-number hit is the sweep's own finding: the nightly flow raises no event for it.
        "event_id": top and candidate and deterministic_id("risk-event", signal.signal_id, org_id, top.rule.id),
    }
    return row, ids if candidate else []
