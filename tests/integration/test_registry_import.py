"""The registry import, set-based (issue 13 item 2), on real PostgreSQL: a re-import of the same file
changes nothing and publishes nothing, a file changing a few rows writes revisions and events for those
only, bad rows are refused with their reasons while the rest is imported, and the import agrees with the
one-organisation path (PUT /organisations) on what "unchanged" means."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from services.rules.db import messaging
from services.rules.main import create_app as rules_app
from services.rules.registry import bulk
from services.rules.registry.importer import RegistryStream
from services.rules.registry.service import organisation_id
from shared.contracts import Envelope, Topic, deterministic_id
from shared.contracts.rules import OrganisationUpdated
from shared.db.session import Database
from shared.jobs import Progress
from shared.kafka.outbox import Outbox
from tests.support.infra import ADMIN, running
from tests.support.jobs import follow

pytestmark = pytest.mark.integration

HEADER = (
    "org_id,name,credit_code,former_names,address,province,city,contact_name,contact_email,contact_mobile,"
    "contact_channels,certificate_no,certificate_type,products,certificate_status,applicant,sites\n"
)


IDLE_IN_TRANSACTION = (
    "SELECT state, now() - xact_start AS open_for, query FROM pg_stat_activity "
    "WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND now() - state_change > interval '1s'"
)


def row(k: int, name: str | None = None, status: str = "有效", cert: str | None = None) -> str:
    return (
        f"ORG-{k},{name or f'浙江宏远{k}电器有限公司'},,旧名{k}|旧名{k}乙,浙江省宁波市鄞州区{k}号,浙江,宁波,"
        f"质量负责人,qa{k}@x.example,1390000{k:04d},email|sms,{cert or f'C-{k}'},CCC,HY-{k}|HY-{k}B,{status},"
        f"宁波申请{k}有限公司,宁波工厂：浙江省宁波市鄞州区{k}号\n"
    )


def registry(*rows: str) -> bytes:
    return (HEADER + "".join(rows)).encode()


async def counts(db: Database) -> dict[str, int]:
    async with db.sessions() as session:
        found = {}
        for table in ("organisations", "contacts", "certificates", "organisation_revisions", "outbox"):
            found[table] = int(await session.scalar(text(f"SELECT count(*) FROM {table}")))
        return found


async def events(db: Database, after: int = 0) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        rows = await session.execute(
            text("SELECT id, key, envelope FROM outbox WHERE topic = :t AND id > :after ORDER BY id"),
            {"t": "rules.organisation-updated.v1", "after": after},
        )
        return [{"id": r.id, "key": r.key, "envelope": r.envelope} for r in rows]


async def imported(rules: Any, data: bytes) -> dict[str, Any]:
    response = await rules.post("/organisations/import", params={"wait": "true"}, files={"file": ("r.csv", data)})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_re_import_of_the_same_file_changes_nothing_and_publishes_nothing(platform, service_settings) -> None:
    settings = service_settings("rules")
    db = Database(settings)
    data = registry(*(row(k) for k in range(1, 51)))
    try:
        async with running(rules_app(settings, platform), ADMIN) as rules:
            first = await imported(rules, data)
            assert (first["rows"], first["created"], first["updated"], first["unchanged"]) == (50, 50, 0, 0)
            before = await counts(db)
            assert before == {
                "organisations": 50, "contacts": 50, "certificates": 50, "organisation_revisions": 50, "outbox": 50,
            }  # fmt: skip

            again = await imported(rules, data)
            assert (again["created"], again["updated"], again["unchanged"], again["problems"]) == (0, 0, 50, [])
            assert await counts(db) == before  # no revision, no event, no contact rewritten

            shown = (await rules.get(f"/organisations/{organisation_id('ORG-7')}")).json()
            assert shown["revision"] == 1 and shown["former_names"] == ["旧名7", "旧名7乙"]
            assert [c["number"] for c in shown["certificates"]] == ["C-7"]
            assert shown["certificates"][0]["products"] == ["HY-7", "HY-7B"]
            assert shown["sites"][0]["name"] == "宁波工厂" and shown["sites"][0]["city"] == "宁波"
    finally:
        await db.dispose()


async def test_a_file_changing_a_few_rows_writes_revisions_and_events_for_those_only(
    platform, service_settings
) -> None:
    settings = service_settings("rules")
    db = Database(settings)
    try:
        async with running(rules_app(settings, platform), ADMIN) as rules:
            await imported(rules, registry(*(row(k) for k in range(1, 21))))
            last = max(e["id"] for e in await events(db))
            changed = [row(k) for k in range(1, 21)]
            changed[2] = row(3, name="浙江宏远三号电器有限公司")  # renamed
            changed[9] = row(10, status="暂停")  # its certificate suspended
            changed.append(row(21))  # new
            report = await imported(rules, registry(*changed))
            assert (report["created"], report["updated"], report["unchanged"]) == (1, 2, 18)

            published = await events(db, after=last)
            by_key = {e["key"]: e["envelope"] for e in published}
            assert set(by_key) == {str(organisation_id(f"ORG-{k}")) for k in (3, 10, 21)}
            for key, envelope in by_key.items():
                event = Envelope[OrganisationUpdated].model_validate(envelope)  # the contract, as consumers read it
                org = uuid.UUID(key)
                assert (
                    event.event_type == Topic.ORGANISATION_UPDATED.event_type and event.payload.organisation_id == org
                )
                assert event.event_id == deterministic_id("organisation-updated", org, event.payload.revision)
            renamed = Envelope[OrganisationUpdated].model_validate(by_key[str(organisation_id("ORG-3"))]).payload
            assert (renamed.name, renamed.revision, renamed.certificate_count) == ("浙江宏远三号电器有限公司", 2, 1)
            assert renamed.certificate_types == ["CCC"] and renamed.former_names == ["旧名3", "旧名3乙"]
            assert [(c.email, c.channels) for c in renamed.contacts] == [("qa3@x.example", ["email", "sms"])]
            new = Envelope[OrganisationUpdated].model_validate(by_key[str(organisation_id("ORG-21"))]).payload
            assert new.revision == 1

            async with db.sessions() as session:
                later = (
                    "SELECT organisation_id, revision, snapshot, source FROM organisation_revisions WHERE revision > 1"
                )
                revisions = (await session.execute(text(later))).all()
            assert {(r.organisation_id, r.revision) for r in revisions} == {
                (organisation_id("ORG-3"), 2),
                (organisation_id("ORG-10"), 2),
            }
            suspended = next(r for r in revisions if r.organisation_id == organisation_id("ORG-10"))
            assert suspended.snapshot["certificates"][0]["status"] == "suspended" and suspended.source == "r.csv"
            shown = (await rules.get(f"/organisations/{organisation_id('ORG-10')}")).json()
            assert shown["revision"] == 2 and shown["certificates"][0]["status"] == "suspended"
            assert len(shown["contacts"]) == 1  # replaced, not added to
    finally:
        await db.dispose()


async def test_bad_rows_are_refused_with_their_reasons_and_the_rest_is_imported(platform, service_settings) -> None:
    settings = service_settings("rules")
    db = Database(settings)
    data = registry(
        row(1),
        "ORG-2,,,,,,,,,,,,,,,,\n",  # no name
        row(3).replace(",,旧名3", ",91330212PDY0010124,旧名3"),  # a credit code whose check digit is wrong
        row(4).replace("qa4@x.example", "not-an-email"),
        row(5, cert="C-1"),  # the certificate of ORG-1 already
        row(6),
    )
    try:
        async with running(rules_app(settings, platform), ADMIN) as rules:
            report = await imported(rules, data)
            assert (report["rows"], report["created"], report["rejected_rows"]) == (6, 2, 4)
            problems = {(p["row"], p["field"]): p["problem"] for p in report["problems"]}
            assert problems[(3, "name")] == "is empty"
            assert (4, "credit_code") in problems
            assert any(r == 5 and "email" in f for r, f in problems)
            assert problems[(6, "certificate_no")] == "is the certificate of ORG-1 already"
            assert (await counts(db))["organisations"] == 2
    finally:
        await db.dispose()


async def test_the_import_and_the_one_organisation_path_agree_on_unchanged(platform, service_settings) -> None:
    """An organisation written by PUT /organisations (through the ORM), then imported as it is: unchanged."""
    settings = service_settings("rules")
    db = Database(settings)
    try:
        async with running(rules_app(settings, platform), ADMIN) as rules:
            await imported(rules, registry(row(1), row(2)))
            one = (await rules.get(f"/organisations/{organisation_id('ORG-1')}")).json()
            put = {k: one[k] for k in ("external_ref", "name", "former_names", "credit_code", "address", "province",
                                       "city", "sites", "contacts")}  # fmt: skip
            put["certificates"] = [{k: v for k, v in c.items() if k != "id"} for c in one["certificates"]]
            put["name"] = "浙江宏远改名电器有限公司"
            assert (await rules.put("/organisations", json=put)).status_code == 200  # revision 2, by the ORM
            data = registry(row(1, name="浙江宏远改名电器有限公司"), row(2))
            report = await imported(rules, data)
            assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 2)
    finally:
        await db.dispose()


async def test_an_organisation_whose_rows_are_far_apart_is_merged_as_one(service_settings) -> None:
    """Rows of one organisation in different chunks: the pieces are merged in SQL, the first row's fields
    first, each certificate, contact and site once."""
    settings = service_settings("rules")
    db = Database(settings)
    data = registry(row(1), row(2), row(1, name="别的名字", cert="C-1B"), row(1), row(3))
    try:
        async with db.transaction() as session:
            report = await bulk.import_stream(
                session, Outbox(messaging.outbox, "rules"), RegistryStream(data, chunk=1), "far.csv", Progress()
            )
        assert (report.created, report.unchanged) == (3, 0)
        async with db.sessions() as session:
            snapshot = await session.scalar(
                text("SELECT snapshot FROM organisation_revisions WHERE organisation_id = :id"),
                {"id": organisation_id("ORG-1")},
            )
        assert snapshot["name"] == "浙江宏远1电器有限公司"
        assert [c["number"] for c in snapshot["certificates"]] == ["C-1", "C-1B"]
        assert len(snapshot["contacts"]) == 1 and len(snapshot["sites"]) == 1
        async with db.transaction() as session:  # the same file in one chunk: the same state
            report = await bulk.import_stream(
                session, Outbox(messaging.outbox, "rules"), RegistryStream(data), "far.csv", Progress()
            )
        assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    finally:
        await db.dispose()


async def test_a_caller_that_gives_up_waiting_leaves_the_import_to_finish_and_no_transaction_open(
    platform, service_settings
) -> None:
    settings = service_settings("rules")
    db = Database(settings)
    data = registry(*(row(k) for k in range(1, 3001)))
    try:
        async with running(rules_app(settings, platform), ADMIN) as rules:
            waiting = asyncio.create_task(
                rules.post("/organisations/import", params={"wait": "true"}, files={"file": ("r.csv", data)})
            )
            await asyncio.sleep(0.3)
            waiting.cancel()  # the caller gives up (in-process: its request's task is cancelled)
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            [job] = (await rules.get("/jobs")).json()
            job = await follow(rules, job)
            assert job["status"] == "succeeded" and job["result"]["created"] == 3000, job
            async with db.sessions() as session:
                stuck = (await session.execute(text(IDLE_IN_TRANSACTION))).all()
            assert stuck == [], stuck
    finally:
        await db.dispose()
