"""The reviewers' daily digest on real PostgreSQL and a real SMTP server: open events only, past their
deadline first, once per reviewer and day."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from certwatch.mailsink import read_mail
from services.notify import digest
from services.notify.channels import EmailChannel
from shared.contracts.rules import (
    RiskEventRaised,
    RiskEventStatus,
    RiskEventUpdated,
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
                await digest.raised(session, event)
                await digest.raised(session, event)  # a re-delivery adds nothing
            await digest.updated(session, RiskEventUpdated(
                risk_event_id=closed.risk_event_id, organisation_id=closed.organisation_id,
                status=RiskEventStatus.CLOSED, severity=Severity.HIGH, change="closed", updated_at=datetime.now(UTC),
            ))  # fmt: skip
            await digest.updated(session, RiskEventUpdated(
                risk_event_id=soon.risk_event_id, organisation_id=soon.organisation_id,
                status=RiskEventStatus.IN_REVIEW, severity=Severity.CRITICAL, change="assigned", updated_at=datetime.now(UTC),
            ))  # fmt: skip
        async with db.transaction() as session:
            assert await digest.send(session, settings, EmailChannel(settings), TODAY) == 2
        async with db.transaction() as session:
            assert await digest.send(session, settings, EmailChannel(settings), TODAY) == 0  # once a day

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
