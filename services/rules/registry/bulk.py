"""A registry import, set-based: the export is copied into temporary tables (asyncpg COPY, a chunk at a
time while it is read), and PostgreSQL works out what is new, what changed and what did not, then writes
the organisations, their contacts and certificates, their revisions and the outbox's events for the
changed ones only, each table in a few INSERT … SELECT statements.

Unchanged means: the organisation's latest revision (its full state, as every write through
`service._recorded` stores it) equals what the file says now, as JSONB. An organisation written without
a revision (none in the history) counts as changed.

Everything runs in the caller's transaction, on its connection: all or nothing, and the temporary tables
go with it (ON COMMIT DROP)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import Select, Text, Uuid, literal_column, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.registry.importer import CERTIFICATE_COLUMNS, PIECE_COLUMNS, Chunk, RegistryStream
from services.rules.registry.schemas import ImportReport
from shared.contracts import Topic, deterministic_id
from shared.jobs import Progress
from shared.kafka.outbox import Outbox

log = logging.getLogger(__name__)
WRITE_BATCH = 50_000  # organisations compared and written per statement (the job's progress moves by as much)
CHANGE_COLUMNS = ("seq", "id", "revision", "created", "event_id")
WORK_MEM = "64MB"  # for merging the pieces of organisations whose rows are far apart
IDLE_LIMIT = "5min"  # a transaction left idle this long (its process stuck) is ended by the server

_STAGING = """
CREATE TEMP TABLE registry_staged (
    seq bigint NOT NULL, ref text NOT NULL, id uuid NOT NULL, name text NOT NULL, former_names text[] NOT NULL,
    credit_code text, address text, province text, city text,
    sites jsonb NOT NULL, contacts jsonb NOT NULL, certificates jsonb NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE registry_certificate_ids (number text NOT NULL, id uuid NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE registry_changes (
    seq bigint PRIMARY KEY, id uuid NOT NULL, revision int NOT NULL, created bool NOT NULL, event_id uuid NOT NULL
) ON COMMIT DROP;
"""

# Pieces are copied in file order, numbered (`seq`): a batch is a range of the table (temporary tables
# are read through a small local buffer, so a batch that scanned the whole table would read it again each
# time).
_INDEXED = """
CREATE UNIQUE INDEX ON registry_staged (seq);
CREATE INDEX ON registry_certificate_ids (number);
ANALYZE registry_staged;
"""


def _merged(column: str, key: str = "x.e") -> str:
    """The elements of `column` over an organisation's pieces, in file order, each kept once (by `key`)."""
    return f"""(SELECT coalesce(jsonb_agg(d.e ORDER BY d.seq, d.i), '[]'::jsonb) FROM (
            SELECT DISTINCT ON ({key}) x.e, p.seq, x.i
            FROM registry_staged p, jsonb_array_elements(p.{column}) WITH ORDINALITY AS x(e, i)
            WHERE p.ref = f.ref ORDER BY {key}, p.seq, x.i) d)"""


# The organisations in several pieces ($1, the parser knows them): the first piece gets the others'
# sites, contacts and certificates, each once, and the others go.
_MERGE = (
    "CREATE INDEX ON registry_staged (ref)",
    f"""UPDATE registry_staged f SET sites = {_merged("sites")}, contacts = {_merged("contacts")},
        certificates = {_merged("certificates", "x.e->>'number'")}
    WHERE f.ref = ANY($1::text[]) AND f.seq = (SELECT min(g.seq) FROM registry_staged g WHERE g.ref = f.ref)""",
    """DELETE FROM registry_staged f
    WHERE f.ref = ANY($1::text[]) AND f.seq > (SELECT min(g.seq) FROM registry_staged g WHERE g.ref = f.ref)""",
)

# An organisation's state as the history stores it (OrganisationIn.model_dump(mode="json")).
_SNAPSHOT = """jsonb_build_object(
    'external_ref', s.ref, 'name', s.name, 'former_names', to_jsonb(s.former_names), 'credit_code', s.credit_code,
    'address', s.address, 'province', s.province, 'city', s.city,
    'sites', s.sites, 'contacts', s.contacts, 'certificates', s.certificates)"""

# The batch's organisations whose latest revision differs from the file (or that have none).
_CHANGED = (
    """
SELECT s.seq, s.id, o.revision FROM registry_staged s
LEFT JOIN organisations o ON o.id = s.id
LEFT JOIN organisation_revisions r ON r.organisation_id = o.id AND r.revision = o.revision
WHERE s.seq > $1 AND s.seq <= $2 AND r.snapshot IS DISTINCT FROM """
    + _SNAPSHOT
    + """
ORDER BY s.seq
"""
)

# registry_changes holds the batch's changed organisations only (emptied before each batch).
_CHANGED_IN_BATCH = "FROM registry_changes c JOIN registry_staged s ON s.seq = c.seq"

# Each statement: its SQL, and its parameter ("at": the time written; "source": the file's name).
_WRITES: tuple[tuple[str, str | None], ...] = (
    (
        f"""INSERT INTO organisations
            (id, external_ref, name, former_names, credit_code, address, province, city, sites, revision, updated_at)
        SELECT s.id, s.ref, s.name, s.former_names, s.credit_code, s.address, s.province, s.city, s.sites,
               c.revision, $1
        {_CHANGED_IN_BATCH}
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, former_names = excluded.former_names,
            credit_code = excluded.credit_code, address = excluded.address, province = excluded.province,
            city = excluded.city, sites = excluded.sites, revision = excluded.revision,
            updated_at = excluded.updated_at""",
        "at",
    ),
    (
        "DELETE FROM contacts WHERE organisation_id IN (SELECT c.id FROM registry_changes c WHERE NOT c.created)",
        None,
    ),
    (
        "DELETE FROM certificates WHERE organisation_id IN (SELECT c.id FROM registry_changes c WHERE NOT c.created)",
        None,
    ),
    (
        f"""INSERT INTO contacts (organisation_id, name, email, mobile, language, channels)
        SELECT s.id, k.name, k.email, k.mobile, k.language, k.channels
        {_CHANGED_IN_BATCH}
        CROSS JOIN LATERAL jsonb_array_elements(s.contacts) WITH ORDINALITY AS x(e, i)
        CROSS JOIN LATERAL jsonb_populate_record(NULL::contacts, x.e) AS k
        ORDER BY c.seq, x.i""",
        None,
    ),
    # A certificate number is one certificate: one the file gives another organisation than the database
    # did moves to it (the file's read of the registry is the newer).
    (
        f"""INSERT INTO certificates (id, organisation_id, number, type, standard, scope, products, status,
            status_changed_on, issued_on, expires_on, sites_covered, applicant, manufacturer, factory)
        SELECT i.id, s.id, k.number, k.type, k.standard, k.scope, k.products, k.status, k.status_changed_on,
               k.issued_on, k.expires_on, k.sites_covered, k.applicant, k.manufacturer, k.factory
        {_CHANGED_IN_BATCH}
        CROSS JOIN LATERAL jsonb_array_elements(s.certificates) WITH ORDINALITY AS x(e, n)
        CROSS JOIN LATERAL jsonb_populate_record(NULL::certificates, x.e) AS k
        CROSS JOIN LATERAL (SELECT d.id FROM registry_certificate_ids d WHERE d.number = k.number LIMIT 1) i
        ORDER BY c.seq, x.n
        ON CONFLICT (id) DO UPDATE SET organisation_id = excluded.organisation_id, type = excluded.type,
            standard = excluded.standard, scope = excluded.scope, products = excluded.products,
            status = excluded.status, status_changed_on = excluded.status_changed_on,
            issued_on = excluded.issued_on, expires_on = excluded.expires_on,
            sites_covered = excluded.sites_covered, applicant = excluded.applicant,
            manufacturer = excluded.manufacturer, factory = excluded.factory""",
        None,
    ),
    (
        f"""INSERT INTO organisation_revisions (organisation_id, revision, snapshot, source)
        SELECT s.id, c.revision, {_SNAPSHOT}, $1 {_CHANGED_IN_BATCH}""",
        "source",
    ),
)

# The organisation-updated payload (shared/contracts/rules.py OrganisationUpdated), as `service._event`
# makes it: the contacts as the state has them (the same five fields), certificate types sorted by code
# point, as Python sorts them.
_PAYLOAD = """jsonb_build_object(
    'organisation_id', s.id, 'name', s.name, 'former_names', to_jsonb(s.former_names),
    'credit_code', s.credit_code, 'province', s.province, 'city', s.city,
    'contacts', s.contacts,
    'certificate_count', jsonb_array_length(s.certificates),
    'certificate_types', (SELECT coalesce(jsonb_agg(DISTINCT t ORDER BY t), '[]')
                          FROM (SELECT (e->>'type') COLLATE "C" AS t
                                FROM jsonb_array_elements(s.certificates) AS y(e)) types),
    'revision', c.revision, 'updated_at', {updated_at})"""


def organisation_event_id(org_id: uuid.UUID, revision: int) -> uuid.UUID:
    """The event id of an organisation's revision, as `service._recorded` gives it."""
    return deterministic_id("organisation-updated", org_id, revision)


async def _chunks(stream: RegistryStream) -> AsyncIterator[Chunk]:
    """The stream's chunks, each read on a worker thread (the parser is Python: off the event loop), the
    next one while the caller copies this one."""
    chunks: Iterator[Chunk] = iter(stream)
    reading = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        while (chunk := await reading) is not None:
            reading = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            yield chunk
    finally:
        reading.cancel()  # the caller failed: what the thread still reads is dropped


async def import_stream(
    session: AsyncSession,
    outbox: Outbox,
    stream: RegistryStream,
    source: str,
    progress: Progress,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ImportReport:
    """Import an export in the session's transaction; the report (created, updated, unchanged, problems)."""
    began = time.perf_counter()
    # Through the session first: that begins its transaction, which the raw connection's statements join.
    await session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = '{IDLE_LIMIT}'"))
    conn = (await (await session.connection()).get_raw_connection()).driver_connection
    assert conn is not None and conn.is_in_transaction()
    await conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'; {_STAGING}")
    async for chunk in _chunks(stream):
        await conn.copy_records_to_table("registry_staged", records=chunk.pieces, columns=PIECE_COLUMNS)
        if chunk.certificates:
            await conn.copy_records_to_table(
                "registry_certificate_ids", records=chunk.certificates, columns=CERTIFICATE_COLUMNS
            )
    if stream.advance is not None:
        stream.advance(stream.rows % 1000)
    report = ImportReport(rows=stream.rows, rejected_rows=stream.rejected_rows, problems=stream.problems)

    read = time.perf_counter()
    progress.begin("comparing with the registry")
    await conn.execute(_INDEXED)
    staged = stream.pieces
    if stream.split:
        for statement in _MERGE:
            status = await conn.execute(statement, *([sorted(stream.split)] if "$1" in statement else []))
        staged -= int(status.split()[-1])  # the DELETE's count: the pieces merged into others
    report.unchanged = staged
    progress.begin("writing organisations", total=staged)
    compared = time.perf_counter()
    written_at = now()
    stamp = TypeAdapter(datetime).dump_python(written_at, mode="json")  # as pydantic writes updated_at
    for start in range(0, stream.pieces, WRITE_BATCH):  # seq ranges: pieces merged away leave gaps
        changes = []
        for seq, org_id, old in await conn.fetch(_CHANGED, start, start + WRITE_BATCH):
            revision = (old or 0) + 1  # as `service.upsert` numbers them
            changes.append((seq, org_id, revision, old is None, organisation_event_id(org_id, revision)))
        if changes:
            await conn.execute("TRUNCATE registry_changes")
            await conn.copy_records_to_table("registry_changes", records=changes, columns=CHANGE_COLUMNS)
            await conn.execute("ANALYZE registry_changes")
            for statement, parameter in _WRITES:
                args = [] if parameter is None else [written_at if parameter == "at" else source]
                await conn.execute(statement, *args)
            await _events(session, outbox, stamp)
            created = sum(1 for change in changes if change[3])
            report.created += created
            report.updated += len(changes) - created
            report.unchanged -= len(changes)
        progress.done = min(progress.done + WRITE_BATCH, staged)
    log.info(
        "registry import of %s: %d rows read and copied in %.1f s, %d organisations merged in %.1f s, "
        "compared and %d written in %.1f s",
        source,
        stream.rows,
        read - began,
        staged,
        compared - read,
        report.created + report.updated,
        time.perf_counter() - compared,
    )
    return report


async def _events(session: AsyncSession, outbox: Outbox, stamp: str) -> None:
    """The batch's organisation-updated events, with the ids and keys `service._recorded` gives them."""
    payload = _PAYLOAD.format(updated_at=f"'{stamp}'::text")
    rows = select(
        literal_column("c.event_id", Uuid()).label("event_id"),
        literal_column("s.id::text", Text()).label("key"),
        literal_column(payload, JSONB()).label("payload"),
    ).select_from(text("registry_changes c JOIN registry_staged s ON s.seq = c.seq"))
    await outbox.add_from(session, Topic.ORGANISATION_UPDATED, cast("Select[Any]", rows))
