"""The reviewers' daily digest on real PostgreSQL and a real SMTP server: open events only, past their
deadline first, once per reviewer and day."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from certwatch.mailsink import read_mail
from services.notify import digest
from services.notify.channels import EmailChannel
from services.notify.models import Digest
from shared.contracts import deterministic_id
from shared.contracts.rules import (
    Clock,
    ClockKind,
    ClockState,
    ClockUnit,
    LegalBasis,
    RiskEventRaised,
    RiskEventStatus,
    RiskEventUpdated,
    RiskEventUpdatedV2,
    Severity,
)
from shared.db.session import Database
from tests.support.events import risk_event_raised

pytestmark = pytest.mark.integration
TODAY = date(2026, 12, 1)


def raised(title: str, due: date | None) -> RiskEventRaised:
    return risk_event_raised(title, decision_due=due)


async def test_the_digest_lists_open_events_past_their_deadline_first_once_a_day(service_settings, mail_sink) -> None:
    reviewers = [f"reviewer-{uuid.uuid4().hex[:6]}@cb.example", f"dm-{uuid.uuid4().hex[:6]}@cb.example"]
    settings = service_settings(
        "notify", smtp_port=mail_sink.port, digest_recipients=", ".join(reviewers), digest_language="en"
    )
    db = Database(settings)
    later, overdue, soon, closed = (raised("later", TODAY + timedelta(days=20)), raised("overdue", TODAY - timedelta(days=2)),
                                    raised("soon", TODAY + timedelta(days=1)), raised("closed", TODAY - timedelta(days=9)))  # fmt: skip
    try:
        async with db.transaction() as session:
            for event in (later, overdue, soon, closed):
                await digest.raised(session, [event])
                await digest.raised(session, [event])  # a re-delivery adds nothing
            await digest.updated(session, RiskEventUpdated(
                risk_event_id=closed.risk_event_id, organisation_id=closed.organisation_id,
                status=RiskEventStatus.CLOSED, severity=Severity.HIGH, change="closed", updated_at=datetime.now(UTC),
            ))  # fmt: skip
            await digest.updated(session, RiskEventUpdated(
                risk_event_id=soon.risk_event_id, organisation_id=soon.organisation_id,
                status=RiskEventStatus.IN_REVIEW, severity=Severity.CRITICAL, change="assigned", updated_at=datetime.now(UTC),
            ))  # fmt: skip
        assert await digest.send(db, settings, EmailChannel(settings), TODAY) == 2
        assert await digest.send(db, settings, EmailChannel(settings), TODAY) == 0  # once a day

        for reviewer in reviewers:
            [mail] = [m for m in read_mail(mail_sink.maildir) if m["To"] == reviewer]
            assert mail["Subject"] == (
                "[Certification risk digest] 2026-12-01: 3 open risk events, 1 past their deadline, 1 due within 3 days"
            )
            part = mail.get_body(("plain",))
            assert part is not None
            body = part.get_content()
            order = [line.split("] ")[-1] for line in body.splitlines() if line and not line.startswith((" ", "Risk"))]
            assert order == ["overdue", "soon", "later"]  # past deadline first, then by deadline; closed is gone
            assert "[PAST DEADLINE] overdue" in body and "[DUE SOON] soon" in body
            assert "status: in_review" in body and "severity: critical" in body
    finally:
        await db.dispose()


def test_the_next_digest_is_at_the_hour_in_the_reviewers_time_zone() -> None:
    # 08:30 in Shanghai is 00:30 UTC.
    assert digest.next_run(datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "08:30", "Asia/Shanghai") == datetime(
        2026, 12, 1, 0, 30, tzinfo=UTC
    )
    assert digest.next_run(datetime(2026, 12, 1, 0, 31, tzinfo=UTC), "08:30", "Asia/Shanghai") == datetime(
        2026, 12, 2, 0, 30, tzinfo=UTC
    )


class _Watching:
    """The email channel, noting whether any connection to the database is inside a transaction while a
    message is being sent (pg_stat_activity, from a connection of its own)."""

    def __init__(self, channel: EmailChannel, db: Database) -> None:
        self.name, self.channel, self.db = channel.name, channel, db
        self.open_transactions: list[int] = []

    async def send(self, recipient: str, message: Any, key: str) -> str:
        async with self.db.engine.connect() as conn:
            busy = await conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            ))  # fmt: skip
        self.open_transactions.append(int(busy or 0))
        return await self.channel.send(recipient, message, key)

    async def close(self) -> None:
        await self.channel.close()


async def test_the_digest_is_sent_with_no_transaction_open_and_a_dead_run_s_claim_is_sent_again(
    service_settings, mail_sink
) -> None:
    reviewer = f"reviewer-{uuid.uuid4().hex[:6]}@cb.example"
    settings = service_settings("notify", smtp_port=mail_sink.port, digest_recipients=reviewer, digest_language="en")
    db = Database(settings)
    day = TODAY + timedelta(days=uuid.uuid4().int % 1000 + 1)
    try:
        async with db.transaction() as session:
            await digest.raised(session, [raised("open", day + timedelta(days=9))])
        # A run that claimed this reviewer's digest and died before marking it (its claim has lapsed).
        digest_id = deterministic_id("digest", day, reviewer)
        async with db.transaction() as session:
            session.add(Digest(id=digest_id, day=day, recipient_masked="r***@cb.example", events=1, status="sending",
                               sent_at=datetime.now(UTC) - digest.CLAIM_LEASE - timedelta(minutes=1)))  # fmt: skip
        watching = _Watching(EmailChannel(settings), db)
        assert await digest.send(db, settings, watching, day) == 1  # type: ignore[arg-type]
        assert watching.open_transactions == [0]
        async with db.transaction() as session:
            row = await session.get(Digest, digest_id)
            assert row is not None and row.status == "delivered"
        assert await digest.send(db, settings, watching, day) == 0  # type: ignore[arg-type]

        # A claim still in hand (another replica sending it now) is left alone.
        other = f"other-{uuid.uuid4().hex[:6]}@cb.example"
        async with db.transaction() as session:
            session.add(Digest(id=deterministic_id("digest", day, other), day=day, recipient_masked="o***@cb.example",
                               events=1, status="sending"))  # fmt: skip
        both = service_settings("notify", smtp_port=mail_sink.port, digest_recipients=f"{reviewer},{other}")
        assert await digest.send(db, both, watching, day) == 0  # type: ignore[arg-type]
        assert [m["To"] for m in read_mail(mail_sink.maildir)].count(reviewer) == 1
        assert other not in [m["To"] for m in read_mail(mail_sink.maildir)]
    finally:
        await db.dispose()


def _clock(kind: ClockKind, due: date, ended: date | None = None) -> Clock:
    basis = LegalBasis(document="认证机构管理办法", article="Art. 21", requirement="暂停认证证书")
    return Clock(clock_id=uuid.uuid4(), kind=kind, basis=basis, starts_on=due - timedelta(days=5), length=5,
                 unit=ClockUnit.CALENDAR_DAYS, due_on=due, ended_on=ended,
                 state=ClockState.MET if ended else ClockState.RUNNING)  # fmt: skip


async def test_the_digest_orders_by_the_first_running_statutory_clock_and_names_its_basis(
    service_settings, mail_sink
) -> None:
    """An event whose statutory clock is due before another's decision deadline comes first, and its line says
    which clock and on what legal basis; once that clock ends (a v2 update), the event falls back to its
    decision deadline."""
    reviewer = f"reviewer-{uuid.uuid4().hex[:6]}@cb.example"
    settings = service_settings("notify", smtp_port=mail_sink.port, digest_recipients=reviewer, digest_language="zh-CN")
    db = Database(settings)
    day = TODAY + timedelta(days=uuid.uuid4().int % 1000 + 1)
    decided_later = raised("决定期限在前", day + timedelta(days=6))
    clocked = raised("法定时限在前", day + timedelta(days=20)).model_copy(
        update={"clocks": [_clock(ClockKind.SUSPENSION, day + timedelta(days=2))]}
    )
    try:
        async with db.transaction() as session:
            for event in (decided_later, clocked):
                await digest.raised(session, [event])
        async with db.sessions() as session:
            listed = await digest.lines(session, day, "zh-CN")
        assert [line.event.title for line in listed] == ["法定时限在前", "决定期限在前"]
        assert (listed[0].due, listed[0].flag, listed[0].clock) == (day + timedelta(days=2), "due_soon", "暂停证书时限")

        assert await digest.send(db, settings, EmailChannel(settings), day) == 1
        [mail] = [m for m in read_mail(mail_sink.maildir) if m["To"] == reviewer]
        body = mail.get_body(("plain",)).get_content()
        assert f"法定时限：暂停证书时限，{day + timedelta(days=2)} 前（认证机构管理办法 Art. 21）" in body
        assert body.index("法定时限在前") < body.index("决定期限在前")

        ended = _clock(ClockKind.SUSPENSION, day + timedelta(days=2), ended=day)
        async with db.transaction() as session:
            await digest.updated(session, RiskEventUpdatedV2(
                risk_event_id=clocked.risk_event_id, organisation_id=clocked.organisation_id,
                status=RiskEventStatus.DECIDED, severity=Severity.HIGH, change="decided", updated_at=datetime.now(UTC),
                clocks=[ended],
            ))  # fmt: skip
        async with db.sessions() as session:
            listed = await digest.lines(session, day, "zh-CN")
        assert [line.event.title for line in listed] == ["决定期限在前", "法定时限在前"]
        assert listed[1].clock == "" and listed[1].due == day + timedelta(days=20)
    finally:
        await db.dispose()
