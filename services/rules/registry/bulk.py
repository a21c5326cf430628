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

WRITE_BATCH = 50_000  # changed organisations written per statement (the job's progress moves by as much)
IDLE_LIMIT = "5min"  # a transaction left idle this long (its process stuck) is ended by the server

_STAGING = """
CREATE TEMP TABLE registry_pieces (
    ref text NOT NULL, id uuid NOT NULL, first_row int NOT NULL, name text NOT NULL, former_names text[] NOT NULL,
    credit_code text, address text, province text, city text,
    sites jsonb NOT NULL, contacts jsonb NOT NULL, certificates jsonb NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE registry_certificate_ids (number text NOT NULL, id uuid NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE registry_changes (
    seq int PRIMARY KEY, id uuid NOT NULL, revision int NOT NULL, created bool NOT NULL, event_id uuid NOT NULL
) ON COMMIT DROP;
"""


def _merged(column: str, key: str = "x.e") -> str:
    """The elements of `column` over an organisation's pieces, in file order, each kept once (by `key`)."""
    return f"""CASE WHEN m.n = 1 THEN f.{column} ELSE (
        SELECT coalesce(jsonb_agg(d.e ORDER BY d.r, d.i), '[]'::jsonb) FROM (
            SELECT DISTINCT ON ({key}) x.e, p.first_row AS r, x.i
            FROM registry_pieces p, jsonb_array_elements(p.{column}) WITH ORDINALITY AS x(e, i)
            WHERE p.ref = f.ref ORDER BY {key}, p.first_row, x.i) d) END"""


# One row per organisation: an organisation's pieces merged (the first piece's fields), and its state as
# the history stores it (OrganisationIn.model_dump(mode="json")).
_MERGE = f"""
CREATE TEMP TABLE registry_staged ON COMMIT DROP AS
SELECT s.*, jsonb_build_object(
    'external_ref', s.ref, 'name', s.name, 'former_names', to_jsonb(s.former_names), 'credit_code', s.credit_code,
    'address', s.address, 'province', s.province, 'city', s.city,
    'sites', s.sites, 'contacts', s.contacts, 'certificates', s.certificates) AS snapshot
FROM (
    SELECT f.id, f.ref, f.first_row, f.name, f.former_names, f.credit_code, f.address, f.province, f.city,
           {_merged("sites")} AS sites, {_merged("contacts")} AS contacts,
           {_merged("certificates", "x.e->>'number'")} AS certificates
    FROM (SELECT DISTINCT ON (ref) * FROM registry_pieces ORDER BY ref, first_row) f
    JOIN (SELECT ref, count(*) AS n FROM registry_pieces GROUP BY ref) m USING (ref)
) s
"""

_CHANGED = """
SELECT s.id, o.revision FROM registry_staged s
LEFT JOIN organisations o ON o.id = s.id
LEFT JOIN organisation_revisions r ON r.organisation_id = o.id AND r.revision = o.revision
WHERE r.snapshot IS DISTINCT FROM s.snapshot
ORDER BY s.first_row
"""

_CHANGED_IN_BATCH = "FROM registry_changes c JOIN registry_staged s USING (id)"
_IN_BATCH = "c.seq > $1 AND c.seq <= $2"

# Each statement: its SQL, and its third parameter ("at": the time written; "source": the file's name).
_WRITES: tuple[tuple[str, str | None], ...] = (
    (
        f"""INSERT INTO organisations
            (id, external_ref, name, former_names, credit_code, address, province, city, sites, revision, updated_at)
        SELECT s.id, s.ref, s.name, s.former_names, s.credit_code, s.address, s.province, s.city, s.sites,
               c.revision, $3
        {_CHANGED_IN_BATCH} WHERE {_IN_BATCH}
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, former_names = excluded.former_names,
            credit_code = excluded.credit_code, address = excluded.address, province = excluded.province,
            city = excluded.city, sites = excluded.sites, revision = excluded.revision,
            updated_at = excluded.updated_at""",
        "at",
    ),
    (
        f"DELETE FROM contacts WHERE organisation_id IN "
        f"(SELECT c.id FROM registry_changes c WHERE NOT c.created AND {_IN_BATCH})",
        None,
    ),
    (
        f"DELETE FROM certificates WHERE organisation_id IN "
        f"(SELECT c.id FROM registry_changes c WHERE NOT c.created AND {_IN_BATCH})",
        None,
    ),
    (
        f"""INSERT INTO contacts (organisation_id, name, email, mobile, language, channels)
        SELECT s.id, k.name, k.email, k.mobile, k.language, k.channels
        {_CHANGED_IN_BATCH}
        CROSS JOIN LATERAL jsonb_array_elements(s.contacts) WITH ORDINALITY AS x(e, i)
        CROSS JOIN LATERAL jsonb_populate_record(NULL::contacts, x.e) AS k
        WHERE {_IN_BATCH} ORDER BY c.seq, x.i""",
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
        WHERE {_IN_BATCH} ORDER BY c.seq, x.n
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
        SELECT s.id, c.revision, s.snapshot, $3 {_CHANGED_IN_BATCH} WHERE {_IN_BATCH}""",
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
    """The stream's chunks, each read on a worker thread (the parser is Python: off the event loop)."""
    chunks: Iterator[Chunk] = iter(stream)
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        yield chunk


async def import_stream(
    session: AsyncSession,
    outbox: Outbox,
    stream: RegistryStream,
    source: str,
    progress: Progress,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ImportReport:
    """Import an export in the session's transaction; the report (created, updated, unchanged, problems)."""
    # Through the session first: that begins its transaction, which the raw connection's statements join.
    await session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = '{IDLE_LIMIT}'"))
    conn = (await (await session.connection()).get_raw_connection()).driver_connection
    assert conn is not None and conn.is_in_transaction()
    await conn.execute(_STAGING)
    async for chunk in _chunks(stream):
        await conn.copy_records_to_table("registry_pieces", records=chunk.pieces, columns=PIECE_COLUMNS)
        if chunk.certificates:
            await conn.copy_records_to_table(
                "registry_certificate_ids", records=chunk.certificates, columns=CERTIFICATE_COLUMNS
            )
    if stream.advance is not None:
        stream.advance(stream.rows % 1000)
    report = ImportReport(rows=stream.rows, rejected_rows=stream.rejected_rows, problems=stream.problems)

    progress.begin("comparing with the registry")
    await conn.execute(_MERGE)
    await conn.execute("CREATE INDEX ON registry_certificate_ids (number); ANALYZE registry_staged")
    staged = await conn.fetchval("SELECT count(*) FROM registry_staged")
    progress.total = staged
    changes: list[tuple[int, uuid.UUID, int, bool, uuid.UUID]] = []
    async for row in conn.cursor(_CHANGED, prefetch=10_000):
        org_id, old = row["id"], row["revision"]
        revision = (old or 0) + 1  # as `service.upsert` numbers them
        changes.append((len(changes) + 1, org_id, revision, old is None, organisation_event_id(org_id, revision)))
        if len(changes) % 10_000 == 0:
            progress.done = len(changes)
    progress.done = staged
    for start in range(0, len(changes), WRITE_BATCH):
        await conn.copy_records_to_table(
            "registry_changes", records=changes[start : start + WRITE_BATCH],
            columns=("seq", "id", "revision", "created", "event_id"),
        )  # fmt: skip
    report.created = sum(1 for change in changes if change[3])
    report.updated = len(changes) - report.created
    report.unchanged = staged - len(changes)
    del changes
    await conn.execute("ANALYZE registry_changes")

    progress.begin("writing organisations", total=report.created + report.updated)
    written_at = now()
    stamp = TypeAdapter(datetime).dump_python(written_at, mode="json")  # as pydantic writes updated_at
    for start in range(0, report.created + report.updated, WRITE_BATCH):
        end = start + WRITE_BATCH
        for statement, third in _WRITES:
            args: list[Any] = [start, end]
            if third is not None:
                args.append(written_at if third == "at" else source)
            await conn.execute(statement, *args)
        await _events(session, outbox, start, end, stamp)
        progress.advance(min(end, report.created + report.updated) - start)
    return report


async def _events(session: AsyncSession, outbox: Outbox, start: int, end: int, stamp: str) -> None:
    """The batch's organisation-updated events, with the ids and keys `service._recorded` gives them."""
    payload = _PAYLOAD.format(updated_at=f"'{stamp}'::text")
    rows = (
        select(
            literal_column("c.event_id", Uuid()).label("event_id"),
            literal_column("s.id::text", Text()).label("key"),
            literal_column(payload, JSONB()).label("payload"),
        )
        .select_from(text("registry_changes c JOIN registry_staged s USING (id)"))
        .where(text("c.seq > :start AND c.seq <= :end").bindparams(start=start, end=end))
    )
    await outbox.add_from(session, Topic.ORGANISATION_UPDATED, cast("Select[Any]", rows))
