"""The rules service's functions called directly on real PostgreSQL, each test inside a transaction rolled back
at its end: tokens made and revoked (access), the registry's one-organisation upsert and its revisions
(registry), and the review workflow's transitions and refusals (review). Each function's result, what it
queued in the outbox in the same transaction, and the specific error of each refusal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.access import service as access
from services.rules.access.models import ApiToken
from services.rules.db import messaging
from services.rules.registry import service as registry
from services.rules.registry.schemas import OrganisationIn
from services.rules.review import corrections, decisions, repository
from services.rules.review.decisions import Decision
from services.rules.ruleset.clocks import add_months
from services.rules.ruleset.weighting import ruleset_manifest, ruleset_version
from services.rules.settings import RulesSettings
from services.rules.sweep import service as sweeps
from services.rules.sweep.models import Sweep
from services.rules.tables import DeadlineClock, OrganisationRevision, RiskEvent
from shared import workdays
from shared.auth import AuthSettings, Role, authenticate, digest, keep_token
from shared.contracts import Topic, deterministic_id
from shared.contracts.ingest import (
    Correction,
    CorrectionHow,
    ProductV2,
    SignalDetail,
    SignalKind,
    SignalKindV3,
    SignalV2,
    SignalV3,
    Subject,
)
from shared.contracts.notify import OrganisationResponded, ResponseKind
from shared.contracts.rules import ApiTokenChanged, ClockKind, MatchDecision, MatchSummary, Measure
from shared.db.session import Database
from shared.errors import Conflict, InvalidInput, NotFound, Unauthorized
from shared.kafka.outbox import Outbox
from tests.support.infra import TEMPLATE, Postgres

pytestmark = pytest.mark.integration

OUTBOX = Outbox(messaging.outbox, "rules")
TODAY = workdays.today()  # the services date their decisions by UTC
HONGYUAN = OrganisationIn(
    external_ref="ORG-7",
    name="浙江宏远电器有限公司",
    credit_code="91330212PDY0010123",
    province="浙江",
    city="宁波",
    certificates=[
        {"number": "2022010703004512", "type": "CCC", "scope": "电动自行车用充电器"},
        {"number": "Q-7", "type": "QMS", "scope": "电动自行车用充电器的生产"},
    ],
)


@pytest.fixture(scope="module")
async def rules_db(postgres: Postgres) -> AsyncIterator[Database]:
    """One migrated database for this module; each test's work is rolled back (`session`), so none sees another's."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres.admin().replace("+asyncpg", ""))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        db = Database(RulesSettings(_env_file=None, database_url=postgres.dsn(name, "rules")))
        try:
            yield db
        finally:
            await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def session(rules_db: Database) -> AsyncIterator[AsyncSession]:
    """A session on the rules schema whose work is rolled back when the test ends (the services never commit)."""
    async with rules_db.engine.connect() as connection:
        outer = await connection.begin()
        async with AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        ) as work:
            yield work
        await outer.rollback()


async def queued(session: AsyncSession, topic: Topic) -> list[dict[str, Any]]:
    """The envelopes queued on `topic`, oldest first."""
    table = messaging.outbox
    rows = await session.execute(select(table.c.envelope).where(table.c.topic == topic.value).order_by(table.c.id))
    return [row.envelope for row in rows]


# --- access: tokens ---------------------------------------------------------------------------------------------


async def test_a_token_made_is_shown_once_stored_as_its_digest_published_and_accepted(session: AsyncSession) -> None:
    row, token = await access.create(session, OUTBOX, "dm-wang", Role.DECISION_MAKER, created_by="admin")
    assert row.token_hash == digest(token) and token not in {row.token_hash, row.name}
    [envelope] = await queued(session, Topic.API_TOKEN_CHANGED)
    assert envelope["event_id"] == str(uuid.uuid5(row.id, "created"))
    assert envelope["payload"]["token_hash"] == digest(token) and token not in str(envelope)
    actor = await authenticate(session, AuthSettings(_env_file=None), token)
    assert (actor.name, actor.role) == ("dm-wang", Role.DECISION_MAKER)
    assert [t.name for t in await access.listed(session)] == ["dm-wang"]


async def test_a_revoked_token_stops_working_and_revoking_it_again_changes_nothing(session: AsyncSession) -> None:
    row, token = await access.create(session, OUTBOX, "leaver", Role.REVIEWER, created_by="admin")
    revoked = await access.revoke(session, OUTBOX, row.id)
    first = revoked.revoked_at
    assert first is not None
    with pytest.raises(Unauthorized, match="unknown or revoked token"):
        await authenticate(session, AuthSettings(_env_file=None), token)
    again = await access.revoke(session, OUTBOX, row.id)
    assert again.revoked_at == first
    events = await queued(session, Topic.API_TOKEN_CHANGED)
    assert [e["event_id"] for e in events] == [str(uuid.uuid5(row.id, "created")), str(uuid.uuid5(row.id, "revoked"))]


async def test_revoking_an_unknown_token_is_a_404(session: AsyncSession) -> None:
    with pytest.raises(NotFound, match="no token"):
        await access.revoke(session, OUTBOX, uuid.uuid4())


async def test_publish_missing_queues_only_what_was_never_queued(session: AsyncSession) -> None:
    made, _ = await access.create(session, OUTBOX, "feed-a", Role.FEED, created_by="admin")
    assert await access.publish_missing(session, OUTBOX) == 0  # its change went out when it was made
    restored = ApiToken(
        id=uuid.uuid4(),
        name="from-backup",
        role="regulator",
        token_hash=digest("b"),
        created_by="admin",
        created_at=datetime.now(UTC),
    )
    session.add(restored)
    await session.flush()
    assert await access.publish_missing(session, OUTBOX) == 1
    assert await access.publish_missing(session, OUTBOX) == 0
    assert len(await queued(session, Topic.API_TOKEN_CHANGED)) == 2 and made.revoked_at is None


async def test_a_copy_of_the_tokens_never_undoes_a_revocation_with_an_older_message(session: AsyncSession) -> None:
    table = ApiToken.__table__
    made = ApiTokenChanged(
        token_id=uuid.uuid4(),
        name="x",
        role="reviewer",
        token_hash=digest("tok"),
        created_by="admin",
        created_at=datetime.now(UTC),
    )
    revoked = made.model_copy(update={"revoked_at": datetime.now(UTC)})
    for message in (made, revoked, made):  # the creation delivered again, after the revocation
        await keep_token(session, table, message)  # type: ignore[arg-type]
    kept = await session.scalar(select(ApiToken.revoked_at).where(ApiToken.id == made.token_id))
    assert kept is not None
    with pytest.raises(Unauthorized):
        await authenticate(session, AuthSettings(_env_file=None), "tok")


# --- registry: one organisation ---------------------------------------------------------------------------------


async def revisions(session: AsyncSession, org_id: uuid.UUID) -> list[OrganisationRevision]:
    stmt = select(OrganisationRevision).where(OrganisationRevision.organisation_id == org_id)
    return list((await session.scalars(stmt.order_by(OrganisationRevision.revision))).all())


async def test_an_organisation_is_created_then_unchanged_then_updated_with_a_revision_each_change(
    session: AsyncSession,
) -> None:
    org_id = registry.organisation_id("ORG-7")
    assert await registry.upsert(session, OUTBOX, HONGYUAN, source="test") == "created"
    assert await registry.upsert(session, OUTBOX, HONGYUAN, source="test") == "unchanged"
    spaced = HONGYUAN.model_copy(update={"credit_code": "91330212 pdy0010123"})  # the same code, as printed
    assert await registry.upsert(session, OUTBOX, spaced, source="test") == "unchanged"
    renamed = HONGYUAN.model_copy(update={"name": "浙江宏远智能电器有限公司", "former_names": ["浙江宏远电器有限公司"]})
    assert await registry.upsert(session, OUTBOX, renamed, source="import 2") == "updated"

    org = await registry.get(session, org_id)
    assert (org.revision, org.name, org.former_names) == (2, "浙江宏远智能电器有限公司", ["浙江宏远电器有限公司"])
    history = await revisions(session, org_id)
    assert [(r.revision, r.source, r.snapshot["name"]) for r in history] == [
        (1, "test", "浙江宏远电器有限公司"),
        (2, "import 2", "浙江宏远智能电器有限公司"),
    ]
    events = await queued(session, Topic.ORGANISATION_UPDATED)
    assert [e["event_id"] for e in events] == [str(deterministic_id("organisation-updated", org_id, n)) for n in (1, 2)]
    assert events[1]["payload"]["certificate_types"] == ["CCC", "QMS"] and events[1]["payload"]["revision"] == 2


async def test_an_invalid_credit_code_is_refused_and_nothing_is_written(session: AsyncSession) -> None:
    bad = HONGYUAN.model_copy(update={"credit_code": "91330212PDY0010124"})
    with pytest.raises(InvalidInput, match="credit code check failed"):
        await registry.upsert(session, OUTBOX, bad, source="test")
    with pytest.raises(NotFound, match="no organisation"):
        await registry.get(session, registry.organisation_id("ORG-7"))
    assert await queued(session, Topic.ORGANISATION_UPDATED) == []


async def test_a_certificate_dropped_from_the_export_is_gone_from_the_organisation(session: AsyncSession) -> None:
    await registry.upsert(session, OUTBOX, HONGYUAN, source="test")
    fewer = HONGYUAN.model_copy(update={"certificates": HONGYUAN.certificates[1:]})
    assert await registry.upsert(session, OUTBOX, fewer, source="test") == "updated"
    org = await registry.get(session, registry.organisation_id("ORG-7"))
    assert [c.number for c in org.certificates] == ["Q-7"]
    assert (await queued(session, Topic.ORGANISATION_UPDATED))[-1]["payload"]["certificate_count"] == 1


# --- review: the workflow ---------------------------------------------------------------------------------------


async def raised(
    session: AsyncSession, measure: Measure = Measure.SUSPEND, kind: str = "quality_accident"
) -> RiskEvent:
    """The organisation, and an open risk event about it (as screening writes one)."""
    await registry.upsert(session, OUTBOX, HONGYUAN, source="test")
    event = RiskEvent(
        id=uuid.uuid4(),
        organisation_id=registry.organisation_id("ORG-7"),
        signal_id=uuid.uuid4(),
        signal_kind=kind,
        signal={"published_on": (TODAY - timedelta(days=2)).isoformat(), "detail": {}},
        rule_id="quality-accident",
        rule_version=1,
        severity="critical",
        recommended_measure=measure.value,
        status="open",
        title="产品质量安全事故",
        summary="…",
        decision_due=TODAY + timedelta(days=5),
        match={"decision": "match"},
        clocks=[],
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
    )
    session.add(event)
    await session.flush()
    return event


def decision(measure: Measure, **values: Any) -> Decision:
    return Decision(measure=measure, actor="dm-wang", reason="抽查不合格，型号在证书范围内", **values)


async def actions(session: AsyncSession, event: RiskEvent) -> list[str]:
    return [entry.action for entry in await repository.audit_trail(session, event.id)]


async def test_assigning_puts_an_open_event_in_review_and_is_audited_and_published(session: AsyncSession) -> None:
    event = await raised(session)
    await decisions.assign(session, OUTBOX, event.id, "reviewer-li", actor="dm-wang", reason="型号核对")
    assert (event.status, event.assigned_to) == ("in_review", "reviewer-li")
    await decisions.comment(session, event.id, "reviewer-li", "已核对抽查报告")
    assert await actions(session, event) == ["assigned", "commented"]
    [v1] = await queued(session, Topic.RISK_EVENT_UPDATED)
    [v2] = await queued(session, Topic.RISK_EVENT_UPDATED_V2)
    assert v1["payload"]["change"] == "assigned" and v1["payload"]["status"] == "in_review"
    assert v2["payload"]["change"] == "assigned" and v2["payload"]["signal_published_on"] == str(TODAY - timedelta(2))


async def test_a_suspension_changes_the_certificates_starts_the_limit_and_a_restoration_undoes_it(
    session: AsyncSession,
) -> None:
    event = await raised(session)
    until = TODAY + timedelta(days=60)
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.SUSPEND, suspended_until=until))
    org = await registry.get(session, event.organisation_id)
    assert {c.number: c.status for c in org.certificates} == {"2022010703004512": "suspended", "Q-7": "suspended"}
    assert (event.status, event.decision, event.suspended_until, org.revision) == ("decided", "suspend", until, 2)
    limit = [c for c in event.clocks if c.kind == ClockKind.SUSPENSION_LIMIT.value]
    assert [(c.starts_on, c.due_on, c.state) for c in limit] == [(TODAY, add_months(TODAY, 6), "running")]
    changes = await queued(session, Topic.CERTIFICATE_STATUS_CHANGED)
    assert {(c["payload"]["number"], c["payload"]["old_status"], c["payload"]["new_status"]) for c in changes} == {
        ("2022010703004512", "valid", "suspended"),
        ("Q-7", "valid", "suspended"),
    }
    assert all(c["payload"]["until"] == until.isoformat() for c in changes)

    await decisions.decide(session, OUTBOX, event.id, decision(Measure.RESTORE, certificates=("Q-7",)))
    assert {c.number: c.status for c in org.certificates} == {"2022010703004512": "suspended", "Q-7": "valid"}
    assert (event.decision, event.suspended_until, org.revision) == ("restore", None, 3)
    assert len(await queued(session, Topic.CERTIFICATE_STATUS_CHANGED)) == 3
    assert await actions(session, event) == ["decided", "decided"]


async def test_a_decision_that_changes_no_certificate_leaves_the_registry_alone(session: AsyncSession) -> None:
    event = await raised(session)
    due = TODAY + timedelta(days=30)
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.CORRECTIVE_ACTION, corrective_action_due=due))
    org = await registry.get(session, event.organisation_id)
    assert org.revision == 1 and {c.status for c in org.certificates} == {"valid"}
    assert await queued(session, Topic.CERTIFICATE_STATUS_CHANGED) == []
    [reply] = [c for c in event.clocks if c.kind == ClockKind.REPLY.value]
    assert (reply.due_on, reply.state) == (due, "running") and event.decision_due == due


async def test_a_refused_decision_changes_nothing(session: AsyncSession) -> None:
    event = await raised(session)
    with pytest.raises(InvalidInput, match="needs suspended_until"):
        await decisions.decide(session, OUTBOX, event.id, decision(Measure.SUSPEND))
    with pytest.raises(InvalidInput, match="not certificates of this organisation: X-1"):
        await decisions.decide(session, OUTBOX, event.id, decision(Measure.WITHDRAW, certificates=("X-1",)))
    with pytest.raises(Conflict, match="cannot restore: Q-7 is valid"):
        await decisions.decide(session, OUTBOX, event.id, decision(Measure.RESTORE, certificates=("Q-7",)))
    assert (event.status, event.decision) == ("open", None) and await actions(session, event) == []
    assert await queued(session, Topic.RISK_EVENT_UPDATED) == []


async def test_closing_needs_a_decision_and_a_closed_event_takes_no_more_acts_but_comments(
    session: AsyncSession,
) -> None:
    event = await raised(session)
    with pytest.raises(Conflict, match="has no decision: decide it first"):
        await decisions.close(session, OUTBOX, event.id, "dm-wang", "nothing to do")
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.NO_ACTION))
    await decisions.close(session, OUTBOX, event.id, "dm-wang", "已处理")
    assert event.status == "closed"
    for act in (
        decisions.assign(session, OUTBOX, event.id, "reviewer-li", "dm-wang", None),
        decisions.decide(session, OUTBOX, event.id, decision(Measure.NO_ACTION)),
        decisions.close(session, OUTBOX, event.id, "dm-wang", "again"),
        decisions.replied(session, OUTBOX, event.id, "组织：浙江宏远", "…"),
    ):
        with pytest.raises(Conflict, match="is closed"):
            await act
    await decisions.comment(session, event.id, "reviewer-li", "归档备注")
    assert await actions(session, event) == ["decided", "closed", "commented"]


async def test_acts_on_an_unknown_event_are_a_404(session: AsyncSession) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(NotFound, match=f"no risk event {unknown}"):
        await decisions.decide(session, OUTBOX, unknown, decision(Measure.NO_ACTION))
    with pytest.raises(NotFound):
        await decisions.comment(session, unknown, "x", "y")
    with pytest.raises(NotFound):
        await corrections.confirm(session, OUTBOX, unknown, "dm-wang", "x")


async def test_a_reply_ends_the_reply_clock_and_with_none_running_it_is_refused(session: AsyncSession) -> None:
    event = await raised(session, Measure.REQUEST_EXPLANATION, kind="abnormal_operation_listed")
    with pytest.raises(Conflict, match="waits for no reply"):
        await decisions.replied(session, OUTBOX, event.id, "组织：浙江宏远电器有限公司", "情况说明")
    due = TODAY + timedelta(days=10)
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.REQUEST_EXPLANATION, reply_due=due))
    await decisions.replied(session, OUTBOX, event.id, "组织：浙江宏远电器有限公司", "地址变更未及时登记")
    [reply] = [c for c in event.clocks if c.kind == ClockKind.REPLY.value]
    assert (reply.state, reply.ended_on, reply.ended_by) == ("met", TODAY, "reply")
    assert await actions(session, event) == ["decided", "replied"]


def response(event: RiskEvent, kind: ResponseKind, organisation_id: uuid.UUID | None = None) -> OrganisationResponded:
    return OrganisationResponded(
        response_id=uuid.uuid4(),
        organisation_id=organisation_id or event.organisation_id,
        organisation_name="浙江宏远电器有限公司",
        risk_event_id=event.id,
        kind=kind,
        text="已完成整改",
        link_id=uuid.uuid4(),
        responded_at=datetime.now(UTC),
    )


async def test_a_corrective_action_marked_done_waits_for_a_decision_maker_to_accept_it(session: AsyncSession) -> None:
    event = await raised(session)
    with pytest.raises(Conflict, match="no corrective action waiting for acceptance"):
        await decisions.accept_corrective_action(session, OUTBOX, event.id, "dm-wang", "ok")
    due = TODAY + timedelta(days=30)
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.CORRECTIVE_ACTION, corrective_action_due=due))
    assert await decisions.organisation_responded(session, OUTBOX, response(event, ResponseKind.CORRECTIVE_ACTION_DONE))
    trail = await repository.audit_trail(session, event.id)
    assert decisions.corrective_action_state(trail) == "awaiting_acceptance"
    assert trail[-1].actor == "组织：浙江宏远电器有限公司" and trail[-1].detail["state"] == "awaiting_acceptance"
    await decisions.accept_corrective_action(session, OUTBOX, event.id, "dm-wang", "证据充分")
    assert decisions.corrective_action_state(await repository.audit_trail(session, event.id)) == "accepted"
    with pytest.raises(Conflict):
        await decisions.accept_corrective_action(session, OUTBOX, event.id, "dm-wang", "twice")


async def test_a_dispute_puts_a_decided_event_back_in_review(session: AsyncSession) -> None:
    event = await raised(session)
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.SPECIAL_AUDIT))
    assert await decisions.organisation_responded(session, OUTBOX, response(event, ResponseKind.DISPUTED))
    assert event.status == "in_review" and (await actions(session, event))[-1] == "organisation_disputed"


async def test_an_acknowledgement_is_recorded_without_changing_the_event(session: AsyncSession) -> None:
    event = await raised(session)
    before = len(await queued(session, Topic.RISK_EVENT_UPDATED))
    assert await decisions.organisation_responded(session, OUTBOX, response(event, ResponseKind.ACKNOWLEDGED))
    assert event.status == "open" and await actions(session, event) == ["organisation_acknowledged"]
    assert len(await queued(session, Topic.RISK_EVENT_UPDATED)) == before  # nothing changed: nothing published


async def test_a_response_naming_another_organisations_event_is_ignored(session: AsyncSession) -> None:
    event = await raised(session)
    assert not await decisions.organisation_responded(
        session, OUTBOX, response(event, ResponseKind.DISPUTED, organisation_id=uuid.uuid4())
    )
    assert event.status == "open" and await actions(session, event) == []


async def test_a_suspension_that_ended_unresolved_reopens_the_event_with_a_withdrawal_clock(
    session: AsyncSession,
) -> None:
    event = await raised(session)
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.SUSPEND, suspended_until=TODAY + timedelta(30)))
    ended = TODAY - timedelta(days=1)
    event.suspended_until = ended  # as if the suspension had run its course
    await session.flush()
    assert await decisions.reopen_expired(session, OUTBOX, TODAY) == 1
    assert (event.status, event.suspended_until) == ("in_review", None)
    [withdrawal] = [c for c in event.clocks if c.kind == ClockKind.WITHDRAWAL.value]
    assert withdrawal.starts_on == ended and event.decision_due == withdrawal.due_on
    trail = await repository.audit_trail(session, event.id)
    assert (trail[-1].actor, trail[-1].action, trail[-1].detail) == (
        "system",
        "reopened",
        {"suspension_ended": str(ended)},
    )
    assert await decisions.reopen_expired(session, OUTBOX, TODAY) == 0  # once only
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.WITHDRAW))
    org = await registry.get(session, event.organisation_id)
    assert {c.status for c in org.certificates} == {"withdrawn"} and withdrawal.state == "met"


async def test_a_suspension_still_running_is_not_reopened(session: AsyncSession) -> None:
    event = await raised(session)
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.SUSPEND, suspended_until=TODAY + timedelta(1)))
    assert await decisions.reopen_expired(session, OUTBOX, TODAY) == 0 and event.status == "decided"


async def test_a_second_suspension_may_not_outlast_six_months_from_the_first(session: AsyncSession) -> None:
    """(The second suspension is of the certificate still valid: one already suspended is refused, 409.)"""
    event = await raised(session)
    first = decision(Measure.SUSPEND, suspended_until=TODAY + timedelta(30), certificates=("Q-7",))
    await decisions.decide(session, OUTBOX, event.id, first)
    began = TODAY - timedelta(days=40)  # as if the first suspension began 40 days ago
    await session.execute(
        update(DeadlineClock)
        .where(DeadlineClock.risk_event_id == event.id, DeadlineClock.kind == ClockKind.SUSPENSION_LIMIT.value)
        .values(starts_on=began, due_on=add_months(began, 6))
    )
    await session.refresh(event, ["clocks"])
    with pytest.raises(InvalidInput, match=f"the suspension began on {began}"):
        await decisions.decide(
            session, OUTBOX, event.id, decision(Measure.SUSPEND, suspended_until=add_months(TODAY, 6))
        )
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.SUSPEND, suspended_until=add_months(began, 6)))
    assert event.suspended_until == add_months(began, 6)


async def test_confirming_or_rejecting_needs_a_correction_pending(session: AsyncSession) -> None:
    event = await raised(session)
    for act in (corrections.confirm, corrections.reject):
        with pytest.raises(Conflict, match="has no correction pending confirmation"):
            await act(session, OUTBOX, event.id, "dm-wang", "x")
    event.correction = {"state": corrections.PENDING, "signal_id": str(uuid.uuid4())}
    await session.flush()
    await corrections.reject(session, OUTBOX, event.id, "dm-wang", "复检报告不是该批次")
    assert event.correction["state"] == corrections.REJECTED and event.status == "open"
    with pytest.raises(Conflict, match="has no correction pending"):
        await corrections.confirm(session, OUTBOX, event.id, "dm-wang", "x")


async def test_confirming_a_correction_closes_the_event_voids_its_clocks_and_leaves_the_certificates(
    session: AsyncSession,
) -> None:
    event = await raised(session)
    await decisions.decide(session, OUTBOX, event.id, decision(Measure.SUSPEND, suspended_until=TODAY + timedelta(30)))
    event.correction = {"state": corrections.PENDING, "signal_id": str(uuid.uuid4())}
    await session.flush()
    await corrections.confirm(session, OUTBOX, event.id, "dm-wang", "复检合格")
    assert event.status == "closed" and event.correction["state"] == corrections.CONFIRMED
    assert {c.state for c in event.clocks} == {"void"}
    org = await registry.get(session, event.organisation_id)
    assert {c.status for c in org.certificates} == {"suspended"}  # restoring is a decision of its own
    with pytest.raises(Conflict, match="is closed"):
        await corrections.reject(session, OUTBOX, event.id, "dm-wang", "x")
    assert date.fromisoformat(str(event.correction["decided_on"])) == TODAY


# --- sweep: starting one ----------------------------------------------------------------------------------------


async def test_a_sweep_is_queued_with_its_window_and_ruleset_and_a_second_is_refused_naming_the_first(
    session: AsyncSession,
) -> None:
    sweep = await sweeps.create(session, "dm-wang", as_of=date(2026, 12, 1), window="3y")
    assert (sweep.status, sweep.active, sweep.since, sweep.window) == ("queued", True, date(2023, 12, 1), "3y")
    assert sweep.ruleset_version == ruleset_version() and sweep.ruleset == ruleset_manifest()
    with pytest.raises(Conflict, match=rf"sweep {sweep.id} is queued \(asked for by dm-wang\): one at a time"):
        await sweeps.create(session, "dm-li", as_of=date(2026, 12, 1), window="1y")


async def test_a_sweep_whose_process_stopped_reporting_is_interrupted_so_another_may_start(
    session: AsyncSession,
) -> None:
    stale = await sweeps.create(session, "dm-wang", as_of=date(2026, 12, 1), window="3y")
    stale.heartbeat_at = datetime.now(UTC) - timedelta(minutes=11)
    await session.flush()
    fresh = await sweeps.create(session, "dm-li", as_of=date(2026, 12, 1), window="18m")
    await session.refresh(stale)
    assert (stale.status, stale.active) == ("interrupted", None) and "its process stopped" in (stale.error or "")
    assert fresh.active and fresh.since == date(2025, 6, 1)


@pytest.mark.parametrize("window", ["three years", "3w", "", "1000y"])
async def test_a_window_that_is_no_window_is_refused_and_nothing_is_queued(session: AsyncSession, window: str) -> None:
    with pytest.raises(InvalidInput, match="a number and y, m or d"):
        await sweeps.create(session, "dm-wang", as_of=date(2026, 12, 1), window=window)
    assert await session.scalar(select(func.count()).select_from(Sweep)) == 0


# --- corrections: linking a correcting signal to the event it corrects ------------------------------------------


def recheck(product: str, made: date, bulletin: str | None = "2026年第3期") -> SignalV3:
    return SignalV3(
        signal_id=uuid.uuid4(),
        feed="liaoning",
        kind=SignalKindV3.SPOT_CHECK_OVERTURNED,
        subject=Subject(name="浙江宏远电器有限公司"),
        product=ProductV2(name=product, production_date=made),
        detail=SignalDetail(),
        correction=Correction(how=CorrectionHow.RECHECK_PASSED, corrects_bulletin_no=bulletin, evidence="复检合格"),
    )


async def failed_spot_check(session: AsyncSession) -> RiskEvent:
    event = await raised(session, Measure.SPECIAL_AUDIT, kind="spot_check_failure")
    event.signal = {
        "product": {"name": "电动自行车用充电器", "production_date": "2026-08-01"},
        "detail": {"bulletin_no": "2026年第3期"},
    }
    await session.flush()
    return event


MATCH = MatchSummary(decision=MatchDecision.MATCH, score=1.0, method="credit_code", explanation="统一社会信用代码一致")


async def test_a_recheck_of_the_same_product_and_batch_supersedes_the_failure_pending_confirmation(
    session: AsyncSession,
) -> None:
    event = await failed_spot_check(session)
    correction = recheck("电动自行车用充电器", date(2026, 8, 1))
    caused_by = uuid.uuid4()
    [linked] = await corrections.supersede(session, OUTBOX, event.organisation_id, correction, MATCH, caused_by)
    assert linked is event and event.status == "open"  # nothing closes until a decision-maker confirms
    held = event.correction or {}
    assert (held["state"], held["how"], held["evidence"], held["signal_id"]) == (
        "pending",
        "recheck_passed",
        "复检合格",
        str(correction.signal_id),
    )
    assert held["agrees_on"] == {
        "product": "电动自行车用充电器",
        "production_date": "2026-08-01",
        "bulletin_no": "2026年第3期",
    }
    trail = await repository.audit_trail(session, event.id)
    assert (trail[-1].actor, trail[-1].action, trail[-1].detail["caused_by"]) == (
        "system",
        "superseded_pending",
        str(caused_by),
    )
    again = await corrections.supersede(session, OUTBOX, event.organisation_id, correction, MATCH, uuid.uuid4())
    assert again == [event] and len(await repository.audit_trail(session, event.id)) == len(trail)  # a replay


async def test_a_recheck_of_another_batch_or_a_kind_that_corrects_nothing_links_nothing(session: AsyncSession) -> None:
    event = await failed_spot_check(session)
    other_batch = recheck("电动自行车用充电器", date(2026, 9, 1))
    assert await corrections.supersede(session, OUTBOX, event.organisation_id, other_batch, MATCH, uuid.uuid4()) == []
    failure = SignalV2(
        signal_id=uuid.uuid4(),
        feed="samr",
        kind=SignalKind.SPOT_CHECK_FAILURE,
        subject=Subject(name="浙江宏远电器有限公司"),
    )
    assert await corrections.supersede(session, OUTBOX, event.organisation_id, failure, MATCH, uuid.uuid4()) == []
    assert event.correction is None and await actions(session, event) == []
