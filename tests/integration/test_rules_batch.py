"""Rules screens a batch of signals set-based (issue 13, screening/batch.py) and writes exactly what screening the
same signals one after the other writes: the same risk events (escalation included: an event raised earlier in
the batch counts as a prior one), audit rows, clocks and outbox rows, in the same order.

The batch holds repeats of one organisation's failures (the second and third escalate), a signal naming two
parties, one matching nobody, a removal from a list that corrects an event raised before the batch, a listing and
its removal in the same batch, a 复检 that overturns a failure raised in the batch (v3), a signal screened before
the batch (a replay) and the same signal twice. Each path runs in a transaction of its own from the same state,
rolled back after its rows are read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.main import create_app
from services.rules.matcher.index import RegistryIndex
from services.rules.review import corrections
from services.rules.screening import service as screening
from services.rules.screening.batch import Arrival, screen_batch
from shared import workdays
from shared.contracts.ingest import (
    CreditCodeStatus,
    Party,
    ProductV2,
    SignalDetail,
    SignalKind,
    SignalKindV3,
    SignalReceivedV2,
    SignalReceivedV3,
    Subject,
)
from shared.db.session import Database
from shared.kafka.outbox import Outbox
from shared.logging import correlation_id
from tests.support.infra import ADMIN, as_role, running

pytestmark = pytest.mark.integration

A, B, C = "浙江宏远电器有限公司", "广东澄川电器制造有限公司", "青州财记食品有限公司"
CODE_A = "91330212PDY0010123"  # synthetic, valid (DOMAIN.md §4.6)
ORGANISATIONS = [
    {"external_ref": "ORG-A", "name": A, "address": "浙江省宁波市鄞州区", "province": "浙江", "city": "宁波",
     "credit_code": CODE_A,
     "certificates": [{"number": "2022010703004512", "type": "CCC", "scope": "电动自行车用充电器",
                       "products": ["HY-4820A"]}]},
    {"external_ref": "ORG-B", "name": B, "address": "广东省佛山市顺德区", "province": "广东", "city": "佛山",
     "certificates": [{"number": "Q-1", "type": "QMS", "scope": "家用电冰箱的生产"}]},
    {"external_ref": "ORG-C", "name": C, "address": "山东省潍坊市青州市弥河镇工业园", "province": "山东",
     "city": "潍坊", "certificates": [{"number": "HACCP-2019-0815", "type": "HACCP", "scope": "薯类和膨化食品的生产"}]},
]  # fmt: skip


def failure(name: str, product: str = "电动自行车用充电器", **subject: Any) -> SignalReceivedV2:
    return SignalReceivedV2(
        signal_id=uuid.uuid4(), feed="samr", kind=SignalKind.SPOT_CHECK_FAILURE, subject=Subject(name=name, **subject),
        product=ProductV2(name=product, model="HY-4820A"), published_on=workdays.today(),
        detail=SignalDetail(bulletin_no="2026年第9期", reason="输出电压不合格"),
    )  # fmt: skip


def listed(kind: SignalKind) -> SignalReceivedV2:
    return SignalReceivedV2(
        signal_id=uuid.uuid4(), feed="gsxt", kind=kind,
        subject=Subject(name=A, credit_code=CODE_A, credit_code_status=CreditCodeStatus.VALID),
        detail=SignalDetail(listed_on=workdays.today(), reason="伪造、冒用认证证书（第七条第五项）"),
    )  # fmt: skip


def overturned(of: SignalReceivedV2) -> SignalReceivedV3:
    assert of.product is not None
    return SignalReceivedV3(
        signal_id=uuid.uuid4(), feed="samr", kind=SignalKindV3.SPOT_CHECK_OVERTURNED, subject=of.subject,
        product=of.product, published_on=workdays.today(),
        detail=SignalDetail(reason="复检结论：合格"),
    )  # fmt: skip


Path = Callable[[AsyncSession, Outbox, RegistryIndex, list[Arrival]], Awaitable[None]]


async def one_by_one(session: AsyncSession, outbox: Outbox, index: RegistryIndex, arrivals: list[Arrival]) -> None:
    """What the per-record handlers did: each signal screened (or a v3 correction applied) in turn."""
    for a in arrivals:
        token = correlation_id.set(a.correlation)
        try:
            if a.corrects_only:
                await screening.correct(session, outbox, index, a.signal, caused_by=a.caused_by)
            else:
                assert isinstance(a.signal, SignalReceivedV2)
                await screening.screen(session, outbox, index, a.signal, caused_by=a.caused_by)
        finally:
            correlation_id.reset(token)


async def batched(session: AsyncSession, outbox: Outbox, index: RegistryIndex, arrivals: list[Arrival]) -> None:
    await screen_batch(session, outbox, index, arrivals)


async def in_pieces(session: AsyncSession, outbox: Outbox, index: RegistryIndex, arrivals: list[Arrival]) -> None:
    """The batch cut in three, as the consumer's batches may cut a partition's records."""
    for start in range(0, len(arrivals), 4):
        await screen_batch(session, outbox, index, arrivals[start : start + 4])


# Times of day, and when the running relay published an outbox row (it may between two snapshots).
WHEN = {"created_at", "updated_at", "raised_at", "linked_at", "at", "occurred_at", "published_at"}


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in WHEN}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


async def _rows(session: AsyncSession) -> dict[str, list[Any]]:
    """Every row the screening writes, without the ids the database numbers and the times of day."""
    await session.flush()
    queries = {
        "risk_events": "SELECT to_jsonb(e) AS row FROM risk_events e ORDER BY id",
        "audit_log": "SELECT to_jsonb(a) - 'id' AS row FROM audit_log a ORDER BY risk_event_id, action, id",
        "clocks": "SELECT to_jsonb(c) AS row FROM clocks c ORDER BY id",
        "outbox": "SELECT to_jsonb(o) - 'id' AS row FROM outbox o ORDER BY id",
    }
    return {name: [_timeless(r) for r in (await session.scalars(text(sql))).all()] for name, sql in queries.items()}


async def test_a_batch_writes_exactly_what_screening_one_by_one_writes(platform, service_settings) -> None:
    settings = service_settings("rules")
    app = create_app(settings, platform)
    outbox: Outbox = app.state.runtime.outbox
    async with running(app, as_role("regulator")) as rules:
        for org in ORGANISATIONS:
            assert (await rules.put("/organisations", json=org, headers=ADMIN)).status_code == 200
        index = await app.state.live_index.current()
        db = Database(settings)
        try:
            # Before the batch: a listing (corrected in the batch) and a failure (replayed in it).
            listing, screened = listed(SignalKind.SERIOUS_ILLEGAL_LISTED), failure(B, "家用电冰箱")
            async with db.transaction() as session:
                for s in (listing, screened):
                    assert await screening.screen(session, outbox, index, s, caused_by=uuid.uuid4()) == 1

            first = failure(A)
            twice = failure(A, "电动自行车用充电器（二）")
            signals: list[Any] = [
                first,
                failure(B, "家用电冰箱"),
                failure(A),  # the second failure of A: escalates
                failure("某某贸易商行"),  # matches nobody
                listed(SignalKind.SERIOUS_ILLEGAL_REMOVED),  # corrects the listing raised before the batch
                SignalReceivedV2(
                    signal_id=uuid.uuid4(),
                    feed="samr",
                    kind=SignalKind.SPOT_CHECK_FAILURE,
                    subject=Subject(name=A),
                    parties=[Party(name=A, role_label="委托方"), Party(name=B, role_label="受委托方")],
                    product=ProductV2(name="电动自行车用充电器"),
                    detail=SignalDetail(reason="标志不合格"),
                ),
                screened,  # a replay: raised before the batch
                twice,
                twice,  # the same signal again (another envelope)
                listed(SignalKind.ABNORMAL_OPERATION_LISTED),
                listed(SignalKind.ABNORMAL_OPERATION_REMOVED),  # corrects the listing raised just before it
                overturned(first),  # v3: corrects the first failure, raises nothing
                failure(C, "脆锅巴"),
                listed(SignalKind.CCC_RESTORED),  # nothing to correct: raises an event of its own
            ]
            arrivals = [
                Arrival(s, uuid.uuid4(), f"corr-{i}", corrects_only=isinstance(s, SignalReceivedV3))
                for i, s in enumerate(signals)
            ]

            written: dict[str, dict[str, list[Any]]] = {}
            for name, path in {"one_by_one": one_by_one, "batch": batched, "pieces": in_pieces}.items():
                async with db.sessions() as session:  # each from the same state: rolled back
                    await path(session, outbox, index, arrivals)
                    written[name] = await _rows(session)
                    await session.rollback()
        finally:
            await db.dispose()

    reference = written["one_by_one"]
    events = [e for e in reference["risk_events"] if e["signal_id"] not in {str(listing.signal_id),
                                                                            str(screened.signal_id)}]  # fmt: skip
    # What the batch holds happened: escalation, two parties, the corrections, nothing twice, nobody matched.
    assert [a["detail"]["escalated"] for a in reference["audit_log"] if a["action"] == "raised"].count(True) >= 2
    assert sum(e["signal_id"] == str(signals[5].signal_id) for e in events) == 2  # both parties
    assert not [e for e in events if e["signal_id"] in {str(screened.signal_id), str(signals[3].signal_id)}]
    assert sum(e["signal_id"] == str(twice.signal_id) for e in events) == 1
    corrected = [e for e in reference["risk_events"] if e["correction"]]
    assert {c["signal_kind"] for c in corrected} == {"serious_illegal_listed", "abnormal_operation_listed",
                                                     "spot_check_failure"}  # fmt: skip
    assert any(e["signal_kind"] == "ccc_restored" for e in events)
    assert len(reference["outbox"]) > 2 * len(events)  # v1 and v2 of each, and the corrections' updates

    for name in ("batch", "pieces"):
        for table, rows in reference.items():
            assert written[name][table] == rows, (name, table)


async def test_a_removal_replayed_after_its_correction_was_confirmed_raises_nothing(platform, service_settings) -> None:
    """A sweep replays every stored signal. A removal that was linked to the listing it corrects, which a
    decision-maker then confirmed (the event closed), must not raise an event of its own when replayed, on
    either path (a second sweep raised a few such events at 1M organisations)."""
    settings = service_settings("rules")
    app = create_app(settings, platform)
    outbox: Outbox = app.state.runtime.outbox
    async with running(app, as_role("regulator")) as rules:
        for org in ORGANISATIONS:
            assert (await rules.put("/organisations", json=org, headers=ADMIN)).status_code == 200
        index = await app.state.live_index.current()
        db = Database(settings)
        try:
            listing, removal = listed(SignalKind.SERIOUS_ILLEGAL_LISTED), listed(SignalKind.SERIOUS_ILLEGAL_REMOVED)
            async with db.transaction() as session:
                assert await screening.screen(session, outbox, index, listing, caused_by=uuid.uuid4()) == 1
                assert await screening.screen(session, outbox, index, removal, caused_by=uuid.uuid4()) == 0  # linked
            async with db.transaction() as session:
                [event_id] = (await session.scalars(text("SELECT id FROM risk_events"))).all()
                await corrections.confirm(session, outbox, event_id, "dm-wang", "已移出名录，核实无误")
            arrival = Arrival(removal, uuid.uuid4(), "replayed")
            for path in (one_by_one, batched):
                async with db.sessions() as session:
                    before = await _rows(session)
                    await path(session, outbox, index, [arrival])
                    assert await _rows(session) == before, path.__name__
                    await session.rollback()
        finally:
            await db.dispose()


async def test_two_batches_naming_one_organisation_at_once_escalate_as_one_after_the_other(
    platform, service_settings
) -> None:
    """The consumer screens partitions side by side. Two batches each holding a failure of A, in two transactions at
    once: the second waits for the first's commit, so it counts the first's event as a prior one and escalates,
    as screening them one after the other does (each counting before the other committed would escalate none)."""
    settings = service_settings("rules")
    app = create_app(settings, platform)
    outbox: Outbox = app.state.runtime.outbox
    async with running(app, as_role("regulator")) as rules:
        assert (await rules.put("/organisations", json=ORGANISATIONS[0], headers=ADMIN)).status_code == 200
        index = await app.state.live_index.current()
        db = Database(settings)
        screened, release = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with db.transaction() as session:
                assert await screen_batch(session, outbox, index, [Arrival(failure(A), uuid.uuid4())]) == 1
                screened.set()
                await release.wait()  # the transaction stays open while the second batch starts

        async def second() -> None:
            await screened.wait()
            async with db.transaction() as session:
                assert await screen_batch(session, outbox, index, [Arrival(failure(A), uuid.uuid4())]) == 1

        try:
            tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
            await screened.wait()
            await asyncio.sleep(0.5)  # time for the second batch to screen, were it not held back
            release.set()
            await asyncio.gather(*tasks)
            async with db.sessions() as session:
                escalated = (
                    await session.scalars(
                        text("SELECT detail->>'escalated' FROM audit_log WHERE action = 'raised' ORDER BY id")
                    )
                ).all()
        finally:
            await db.dispose()
    assert escalated == ["false", "true"]
