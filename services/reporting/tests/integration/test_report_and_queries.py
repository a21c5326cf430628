"""reporting's queries on real PostgreSQL, fed by its projections (no broker): the regulator's report for a period
(its rows and totals, what falls just outside), timeliness in SQL and in Python agreeing, the dashboard's figures
and drill-down pages, the login cookie's actor, and the read models' upserts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from services.reporting import dashboard, report, repository, service, sessions
from services.reporting.models import ClockView, MeasureTaken, NotificationView
from services.reporting.settings import ReportingSettings
from services.reporting.timeliness import timeliness
from shared.auth import SETTINGS_ADMIN, TOKENS, Role, digest
from shared.contracts.ingest import FeedRunCompleted, FeedRunStatus, SignalKind
from shared.contracts.notify import Channel, NotificationDelivered, NotificationFailed
from shared.contracts.rules import (
    CertificateRef,
    CertificateStatus,
    CertificateStatusChanged,
    Clock,
    ClockKind,
    ClockState,
    ClockUnit,
    LegalBasis,
    MatchDecision,
    MatchSummary,
    Measure,
    OrganisationUpdated,
    RiskEventRaisedV2,
    RiskEventStatus,
    RiskEventUpdatedV2,
    Severity,
)
from shared.db.session import Database
from shared.errors import NotFound
from tests.support.events import risk_event_raised
from tests.support.infra import ADMIN_TOKEN, ROLE_TOKENS

pytestmark = pytest.mark.integration

NOV = (date(2026, 11, 1), date(2026, 11, 30))
BASIS = LegalBasis(document="认证机构管理办法", article="第二十一条", requirement="r")


def at(day: date, hour: int = 4) -> datetime:
    """A moment on `day` that is the same day in UTC and in Shanghai (04:00 UTC is 12:00 there)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
async def reporting(service_settings: Any) -> AsyncIterator[tuple[Database, ReportingSettings]]:
    settings = service_settings("reporting")
    db = Database(settings)
    try:
        yield db, settings
    finally:
        await db.dispose()


def _cert(number: str, kind: str = "CCC") -> CertificateRef:
    return CertificateRef(certificate_id=uuid.uuid4(), number=number, type=kind, status=CertificateStatus.VALID)


def _event(title: str, raised: datetime, **fields: Any) -> RiskEventRaisedV2:
    return risk_event_raised(title, raised_at=raised, **fields)


def _decided(
    event: RiskEventRaisedV2, when: datetime, measure: Measure = Measure.SUSPEND, clocks: list[Clock] | None = None
) -> RiskEventUpdatedV2:
    return RiskEventUpdatedV2(
        risk_event_id=event.risk_event_id,
        organisation_id=event.organisation_id,
        status=RiskEventStatus.DECIDED,
        severity=event.severity,
        change="decided",
        decision=measure,
        actor="dm-wang",
        updated_at=when,
        clocks=clocks or [],
    )


def _clock(kind: ClockKind, due: date, state: ClockState = ClockState.RUNNING, ended: date | None = None) -> Clock:
    return Clock(
        clock_id=uuid.uuid4(),
        kind=kind,
        basis=BASIS,
        starts_on=due - timedelta(days=30),
        unit=ClockUnit.CALENDAR_DAYS,
        due_on=due,
        state=state,
        ended_on=ended,
    )


def _measure(
    event: RiskEventRaisedV2, effective: date, new: CertificateStatus, number: str
) -> CertificateStatusChanged:
    return CertificateStatusChanged(
        certificate_id=uuid.uuid4(),
        organisation_id=event.organisation_id,
        number=number,
        type="CCC",
        old_status=CertificateStatus.VALID,
        new_status=new,
        effective_on=effective,
        reason="抽查不合格",
        risk_event_id=event.risk_event_id,
        decided_by="dm-wang",
    )


async def _project(db: Database, *items: Any) -> None:
    async with db.transaction() as session:
        for item in items:
            if isinstance(item, RiskEventRaisedV2):
                await service.risk_event_raised(session, item)
                await service.risk_event_clocks(session, item)
            elif isinstance(item, RiskEventUpdatedV2):
                await service.risk_event_updated(session, item)
                await service.risk_event_clocks(session, item)
            elif isinstance(item, CertificateStatusChanged):
                await service.certificate_status_changed(session, item)
            elif isinstance(item, OrganisationUpdated):
                await service.organisation_updated(session, item)
            elif isinstance(item, FeedRunCompleted):
                await service.feed_run_completed(session, item)
            else:
                await service.notification(session, item)


# --- the regulator's report -----------------------------------------------------------------------------------------


async def test_the_report_for_a_period_has_exactly_its_rows_and_totals(reporting) -> None:
    db, _ = reporting
    before = _event("十月事件", at(date(2026, 10, 31)), decision_due=date(2026, 11, 10))
    first = _event(
        "月初事件",
        at(date(2026, 11, 1), 0),
        province="浙江",
        certificates=[_cert("C-1"), _cert("Q-1", "QMS")],
        decision_due=date(2026, 11, 20),
    )
    middle = _event(
        "月中事件",
        at(date(2026, 11, 15)),
        province="江苏",
        severity=Severity.CRITICAL,
        certificates=[_cert("C-2")],
        decision_due=date(2026, 12, 20),
        clocks=[running := _clock(ClockKind.SUSPENSION, date(2026, 11, 25))],
    )
    last = _event(
        "月末事件",
        at(date(2026, 11, 30), 15),
        signal_kind=SignalKind.RECALL,
        decision_due=date(2026, 11, 29),
        match=MatchSummary(score=1, decision=MatchDecision.MATCH, method="self_report", explanation="自查"),
    )
    after = _event("十二月事件", at(date(2026, 12, 1)), decision_due=date(2026, 12, 2))
    suspension_met = running.model_copy(update={"state": ClockState.MET, "ended_on": date(2026, 11, 22)})
    await _project(
        db,
        before,
        first,
        middle,
        last,
        after,
        _decided(middle, at(date(2026, 11, 22)), clocks=[suspension_met]),
        _decided(before, at(date(2026, 11, 2)), Measure.CORRECTIVE_ACTION),
        _decided(after, at(date(2026, 12, 2)), Measure.WITHDRAW),
        _measure(middle, date(2026, 11, 22), CertificateStatus.SUSPENDED, "C-2"),
        _measure(after, date(2026, 12, 2), CertificateStatus.WITHDRAWN, "C-9"),
    )
    async with db.transaction() as session:
        built = await report.build(session, *NOV)
    assert [e.title for e in built.raised] == ["月初事件", "月中事件", "月末事件"]  # in order raised, both ends in
    assert [e.title for e in built.decided] == ["十月事件", "月中事件"]  # decided in the period, raised whenever
    assert [(m.certificate_number, name) for m, name in built.measures] == [("C-2", "月中事件有限公司")]
    # open past their decision deadline at the end of 30 Nov: due before 1 Dec and not decided
    assert [e.title for e in built.overdue] == ["月初事件", "月末事件"]
    rows = {(section, item): n for section, item, n in built.summary()}
    assert rows[("risk events raised", "all")] == 3 and rows[("risk events self-reported", "self_report")] == 1
    assert rows[("raised by signal kind", "self_report")] == 1
    assert rows[("raised by severity", "critical")] == 1 and rows[("raised by severity", "high")] == 2
    assert (rows[("raised by province", "浙江")], rows[("raised by province", "unknown")]) == (1, 1)
    assert (rows[("raised by certificate type", "CCC")], rows[("raised by certificate type", "none")]) == (2, 1)
    assert rows[("decided by measure", "suspend")] == rows[("decided by measure", "corrective_action")] == 1
    assert (
        rows[("certificates by new status", "suspended")] == 1
        and ("certificates by new status", "withdrawn") not in rows
    )
    assert rows[("deadlines met", "suspension")] == 1 and rows[("deadlines missed", "suspension")] == 0
    csv_rows = report.events_csv(built).decode("utf-8-sig").splitlines()
    assert len(csv_rows) == 4 and "月中事件有限公司" in csv_rows[2]


async def test_the_report_counts_the_same_local_days_as_the_dashboard(reporting) -> None:
    db, _ = reporting
    half_past_midnight = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)
    await _project(db, _event("午夜后事件", half_past_midnight))
    async with db.transaction() as session:
        on_the_2nd = await report.build(session, date(2026, 12, 2), date(2026, 12, 2))
        dashboard_2nd = await repository.daily(session, ["raised"], date(2026, 12, 2), date(2026, 12, 2))
    assert dashboard_2nd == [(None, "raised", "all", 1)]
    assert [e.title for e in on_the_2nd.raised] == ["午夜后事件"]


async def test_timeliness_in_the_database_says_what_timeliness_in_python_says(reporting) -> None:
    db, _ = reporting
    today = date(2026, 11, 20)
    clocks = [
        _clock(ClockKind.SUSPENSION, date(2026, 11, 10), ClockState.MET, date(2026, 11, 8)),
        _clock(ClockKind.SUSPENSION, date(2026, 11, 12), ClockState.MISSED, date(2026, 11, 15)),
        _clock(ClockKind.SUSPENSION, date(2026, 11, 14)),  # running past its day: missed
        _clock(ClockKind.SUSPENSION, date(2026, 11, 28)),  # still running
        _clock(ClockKind.WITHDRAWAL, date(2026, 11, 5), ClockState.VOID, date(2026, 11, 3)),  # no deadline
        _clock(ClockKind.REPLY, date(2026, 11, 18), ClockState.MET, date(2026, 11, 16)),
        _clock(ClockKind.REPLY, date(2026, 12, 18)),  # outside the period
    ]
    events = [
        _event(f"事件{i}", at(date(2026, 11, 1)), clocks=[c], signal_published_on=date(2026, 10, 20 + i))
        for i, c in enumerate(clocks)
    ]
    await _project(db, *events)
    async with db.transaction() as session:
        in_sql = {line["kind"]: line for line in await repository.clock_lines(session, *NOV, today)}
        rows = await repository.clocks_due_between(session, *NOV)
    in_python = {line.kind: line for line in timeliness(rows, today) if line.due}
    assert set(in_sql) == set(in_python) == {"suspension", "reply"}
    for kind, line in in_python.items():
        sql = in_sql[kind]
        assert (sql["due"], sql["met"], sql["missed"], sql["running"]) == (
            line.due,
            line.met,
            line.missed,
            line.running,
        )
        assert (float(sql["median_days"]), sql["max_days"], sql["basis"]) == (
            line.median_days,
            line.max_days,
            line.basis,
        )
    assert (in_python["suspension"].met, in_python["suspension"].missed, in_python["suspension"].running) == (1, 2, 1)
    assert [c.due_on for c in rows] == sorted(c.due_on for c in rows) and len(rows) == 6


# --- the dashboard -------------------------------------------------------------------------------------------------


async def test_the_dashboards_figures_for_a_period(reporting) -> None:
    db, _ = reporting
    today = datetime.now(service.LOCAL).date()
    start, end = today - timedelta(days=20), today - timedelta(days=10)
    inside = [
        _event(
            f"期内{i}",
            at(start + timedelta(days=i)),
            province="浙江" if i else None,
            certificates=[_cert(f"C-{i}")] if i % 2 else [],
            decision_due=start + timedelta(days=i + 1),
        )
        for i in range(4)
    ]
    self_reported = _event(
        "自查",
        at(end),
        signal_kind=SignalKind.RECALL,
        match=MatchSummary(score=1, decision=MatchDecision.MATCH, method="self_report", explanation="x"),
    )
    outside = _event("期外", at(start - timedelta(days=1)))
    organisations = [
        OrganisationUpdated(
            organisation_id=uuid.uuid4(), name=f"组织{i}", certificate_count=i + 1, updated_at=datetime.now(UTC)
        )
        for i in range(3)
    ]
    await _project(
        db,
        *inside,
        self_reported,
        outside,
        *organisations,
        _decided(inside[0], at(start + timedelta(days=2))),
        _measure(inside[0], start + timedelta(days=2), CertificateStatus.SUSPENDED, "C-0"),
        _measure(inside[1], start + timedelta(days=3), CertificateStatus.WITHDRAWN, "C-1"),
        _measure(inside[1], end + timedelta(days=1), CertificateStatus.WITHDRAWN, "C-5"),
    )
    async with db.transaction() as session:
        shown = await dashboard.overview(session, dashboard.Words("en"), start, end, today, "")
    tiles = {key: n for key, n, _ in shown["tiles"]}
    assert tiles == {
        "raised": 5,
        "self_reported": 1,
        "decided": 1,
        "suspended": 1,
        "withdrawn": 1,
        "overdue": 3,
        "screened": 3,
    }
    by = {b.key: {bar.label: bar.count for bar in b.bars} for b in shown["bars"]}
    assert by["by_province"] == {"浙江": 3, "unknown": 2} and sum(by["by_kind"].values()) == 5
    assert by["by_kind"]["Self-reported"] == 1 and by["by_certificate_type"] == {"CCC": 2, "none": 3}
    weekly = shown["trends"][0]
    assert sum(row[-1] for row in weekly.rows) == 6  # every event raised in the last 52 weeks, the outside one too
    assert [c["kind"] for c in shown["clocks"]] == [k.value for k in ClockKind]


async def test_the_drill_down_list_filters_and_pages(reporting, monkeypatch) -> None:
    db, _ = reporting
    today = datetime.now(service.LOCAL).date()
    monday = today - timedelta(days=today.weekday() + 14)
    events = [
        _event(
            f"事件{i}",
            at(monday + timedelta(days=i % 9)),
            decision_due=today - timedelta(days=1 - i % 2),
            province=None if i == 4 else "浙江",
            certificates=[_cert(f"C{i}")] if i % 3 == 0 else [],
            signal_kind=SignalKind.RECALL if i in (1, 2) else SignalKind.SPOT_CHECK_FAILURE,
        )
        for i in range(8)
    ]
    await _project(db, *events, _decided(events[0], at(monday + timedelta(days=1))))

    async def listed(page: int = 1, **filters: Any) -> list[str]:
        async with db.transaction() as session:
            found = await dashboard.event_list(session, dashboard.Filters(**filters), page, today)
        return [e.title or "" for e in found]

    assert len(await listed()) == 8
    assert sorted(await listed(kind="recall")) == ["事件1", "事件2"]
    assert await listed(province="unknown") == ["事件4"]
    assert sorted(await listed(certificate_type="CCC")) == ["事件0", "事件3", "事件6"]
    assert sorted(await listed(certificate_type="none")) == ["事件1", "事件2", "事件4", "事件5", "事件7"]
    overdue = await listed(status="overdue")  # open, due before today: the even ones, 事件0 decided
    assert sorted(overdue) == ["事件2", "事件4", "事件6"]
    assert sorted(await listed(week=monday)) == [f"事件{i}" for i in range(7)]
    assert await listed(status="decided") == ["事件0"]
    assert await listed(status="decided", kind="recall") == []

    monkeypatch.setattr(dashboard, "PAGE", 3)
    first = await listed()
    assert len(first) == 4  # a page and one more: there is a next page
    assert len(await listed(3)) == 2 and set(first[:3]).isdisjoint(await listed(2))
    assert len(await listed(status="overdue")) == 3 and await listed(2, status="overdue") == []


async def test_an_event_page_and_an_organisation_page_and_what_they_refuse(reporting) -> None:
    db, _ = reporting
    event = _event(
        "详情",
        at(date(2026, 11, 3)),
        certificates=[_cert("2022010703004512")],
        clocks=[_clock(ClockKind.SUSPENSION, date(2026, 11, 10))],
    )
    later = _event(
        "后续", at(date(2026, 12, 3)), organisation_id=event.organisation_id, organisation_name=event.organisation_name
    )
    sent = NotificationDelivered(
        notification_id=uuid.uuid4(),
        organisation_id=event.organisation_id,
        risk_event_id=event.risk_event_id,
        channel=Channel.EMAIL,
        recipient_masked="q***@hongyuan.example",
        template="risk_event_raised",
        attempts=1,
        delivered_at=at(date(2026, 11, 3)),
    )
    await _project(
        db, event, later, sent, _measure(event, date(2026, 11, 8), CertificateStatus.SUSPENDED, "2022010703004512")
    )
    async with db.transaction() as session:
        page = await dashboard.event_page(session, event.risk_event_id)
        assert page["certificates"] == [["2022010703004512", "CCC", "valid"]]
        assert [c.kind for c in page["clocks"]] == ["suspension"] and len(page["measures"]) == 1
        assert [n.recipient_masked for n in page["notifications"]] == ["q***@hongyuan.example"]
        with pytest.raises(NotFound):
            await dashboard.event_page(session, uuid.uuid4())
        organisation = await dashboard.organisation_page(
            session, dashboard.Words("zh-CN"), event.organisation_id, date(2026, 12, 10)
        )
        assert organisation["name"] == "详情有限公司" and [e.title for e in organisation["events"]] == ["后续", "详情"]
        assert [(label, n) for label, n, _ in organisation["months"]] == [("2026年11月", 1), ("2026年12月", 1)]
        assert organisation["certificates"] == [("2022010703004512", "CCC")]
        with pytest.raises(NotFound):
            await dashboard.organisation_page(session, dashboard.Words("en"), uuid.uuid4(), date(2026, 12, 10))


# --- the login cookie's actor ---------------------------------------------------------------------------------------


async def test_a_sessions_digest_names_its_actor_until_the_token_is_revoked(reporting) -> None:
    db, settings = reporting
    token, token_id = "cw-dashboard-reader-token", uuid.uuid4()
    async with db.transaction() as session:
        await session.execute(
            insert(TOKENS).values(
                id=token_id, name="reader-li", role=Role.REVIEWER.value, token_hash=digest(token), created_by="admin"
            )
        )
    async with db.transaction() as session:
        admin = await sessions.actor(session, settings, digest(ADMIN_TOKEN))
        from_settings = await sessions.actor(session, settings, digest(ROLE_TOKENS[Role.REGULATOR]))
        from_table = await sessions.actor(session, settings, digest(token))
        unknown = await sessions.actor(session, settings, digest("nobody's token"))
    assert admin is not None and (admin.name, admin.role) == (SETTINGS_ADMIN, Role.ADMINISTRATOR)
    assert from_settings is not None and from_settings.role is Role.REGULATOR
    assert from_table is not None and (from_table.name, from_table.role) == ("reader-li", Role.REVIEWER)
    assert unknown is None
    async with db.transaction() as session:
        await session.execute(TOKENS.update().where(TOKENS.c.id == token_id).values(revoked_at=datetime.now(UTC)))
    async with db.transaction() as session:
        assert await sessions.actor(session, settings, digest(token)) is None


# --- the read models' upserts ---------------------------------------------------------------------------------------


async def test_feeds_measures_notifications_and_screening_keep_their_latest_state(reporting) -> None:
    db, _ = reporting

    def run(status: FeedRunStatus, finished: datetime, published: int = 0) -> FeedRunCompleted:
        return FeedRunCompleted(
            run_id=uuid.uuid4(),
            feed="samr-spot-checks",
            kind="spot_check",
            status=status,
            started_at=finished - timedelta(minutes=1),
            finished_at=finished,
            published=published,
        )

    ok_at, failed_at = at(date(2026, 11, 30)), at(date(2026, 12, 1))
    event = _event("去重", at(date(2026, 11, 3)))
    measure = _measure(event, date(2026, 11, 8), CertificateStatus.SUSPENDED, "C-1")
    notification_id = uuid.uuid4()
    failed = NotificationFailed(
        notification_id=notification_id,
        organisation_id=event.organisation_id,
        risk_event_id=event.risk_event_id,
        channel=Channel.SMS,
        recipient_masked="138****5678",
        template="risk_event_raised",
        attempts=3,
        error="gateway 503",
        failed_at=ok_at,
    )
    delivered = NotificationDelivered(
        notification_id=notification_id,
        organisation_id=event.organisation_id,
        risk_event_id=event.risk_event_id,
        channel=Channel.SMS,
        recipient_masked="138****5678",
        template="risk_event_raised",
        attempts=4,
        delivered_at=failed_at,
    )
    organisation = uuid.uuid4()
    await _project(
        db,
        event,
        event,
        run(FeedRunStatus.SUCCEEDED, ok_at, 7),
        run(FeedRunStatus.FAILED, failed_at),
        measure,
        measure,
        failed,
        delivered,
        OrganisationUpdated(organisation_id=organisation, name="组织", certificate_count=2, updated_at=ok_at),
        OrganisationUpdated(
            organisation_id=organisation, name="组织", certificate_count=5, revision=2, updated_at=failed_at
        ),
    )
    async with db.transaction() as session:
        [feed] = await repository.feeds(session)
        assert (feed.runs, feed.last_status, feed.last_finished_at, feed.last_succeeded_at) == (
            2,
            "failed",
            failed_at,
            ok_at,
        )
        assert len((await session.scalars(select(MeasureTaken))).all()) == 1  # the same measure twice: one row
        [kept] = (await session.scalars(select(NotificationView))).all()
        assert (kept.outcome, kept.attempts, kept.at) == ("delivered", 4, failed_at)
        assert await repository.screened(session) == (1, 5)
        summary = await service.summary(session)
        assert summary["risk_events_raised"] == 1  # a re-delivered event is counted once
        assert summary["notifications_failed"] == {"sms": 1} and summary["notifications_delivered"] == {"sms": 1}
        assert summary["feeds"] == [
            {"feed": "samr-spot-checks", "last_status": "failed", "last_finished_at": failed_at, "runs": 2}
        ]
        assert await session.get(ClockView, uuid.uuid4()) is None
