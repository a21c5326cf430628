"""Contract tests: every event model round-trips through JSON and matches its committed schema."""

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from shared.contracts import PAYLOADS, Envelope, Topic
from shared.contracts.ingest import (
    V3_ONLY_KINDS,
    Correction,
    CorrectionHow,
    FeedRunCompleted,
    FeedRunStatus,
    Party,
    SignalKind,
    SignalKindV3,
    SignalReceived,
    SignalReceivedV2,
    SignalReceivedV3,
    Subject,
)
from shared.contracts.notify import (
    Channel,
    EvidenceFile,
    NotificationDelivered,
    NotificationFailed,
    OrganisationResponded,
    ResponseKind,
    SelfReported,
    SelfReportProblem,
)
from shared.contracts.rules import (
    ApiTokenChanged,
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
    RiskEventRaised,
    RiskEventRaisedV2,
    RiskEventStatus,
    RiskEventUpdated,
    RiskEventUpdatedV2,
    Severity,
    next_due,
)
from shared.contracts.snapshots import render, schema_of, snapshot_path

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
MATCH = MatchSummary(score=1.0, decision=MatchDecision.MATCH, method="credit_code", explanation="code agrees")
AUDIT = Clock(
    clock_id=ID,
    kind=ClockKind.SHORT_NOTICE_AUDIT,
    basis=LegalBasis(document="CNCA-QMS-01:2025", article="§5.9.3", requirement="audit within 30 days"),
    starts_on=date(2026, 11, 20),
    length=30,
    unit=ClockUnit.CALENDAR_DAYS,
    due_on=date(2026, 12, 20),
    state=ClockState.RUNNING,
)

EXAMPLES = {
    Topic.SIGNAL_RECEIVED: SignalReceived(
        signal_id=ID,
        feed="samr",
        kind=SignalKind.SPOT_CHECK_FAILURE,
        subject=Subject(name="浙江宏远电器有限公司", credit_code="91330212PDY0010123"),
        published_on=date(2024, 6, 18),
    ),
    Topic.SIGNAL_RECEIVED_V2: SignalReceivedV2(
        signal_id=ID,
        feed="samr",
        kind=SignalKind.FOOD_SPOT_CHECK_FAILURE,
        subject=Subject(name="浙江甲食品有限公司", role="producer"),
        parties=[
            Party(name="浙江甲食品有限公司", role="entrusting", role_label="委托方"),
            Party(name="江苏乙食品有限公司", role="entrusted", role_label="受委托方", address="南京市"),
        ],
        published_on=date(2024, 6, 18),
    ),
    Topic.SIGNAL_RECEIVED_V3: SignalReceivedV3(
        signal_id=ID,
        feed="samr",
        kind=SignalKindV3.SPOT_CHECK_OVERTURNED,
        subject=Subject(name="浙江甲食品有限公司", role="producer"),
        correction=Correction(
            how=CorrectionHow.RECHECK_PASSED, corrects_bulletin_no="2024年第12期", evidence="复检结论：合格"
        ),
        published_on=date(2024, 7, 18),
    ),
    Topic.FEED_RUN_COMPLETED: FeedRunCompleted(
        run_id=ID,
        feed="samr",
        kind="spot_check",
        status=FeedRunStatus.SUCCEEDED,
        started_at=NOW,
        finished_at=NOW,
    ),
    Topic.RISK_EVENT_RAISED: RiskEventRaised(
        risk_event_id=ID,
        organisation_id=ID,
        organisation_name="浙江宏远电器有限公司",
        signal_id=ID,
        signal_kind=SignalKind.SPOT_CHECK_FAILURE,
        rule_id="spot-check-failure",
        rule_version=1,
        severity=Severity.HIGH,
        recommended_measure=Measure.SPECIAL_AUDIT,
        title="t",
        summary="s",
        match=MATCH,
        raised_at=NOW,
    ),
    Topic.RISK_EVENT_UPDATED: RiskEventUpdated(
        risk_event_id=ID,
        organisation_id=ID,
        status=RiskEventStatus.DECIDED,
        severity=Severity.HIGH,
        change="decided",
        decision=Measure.SUSPEND,
        updated_at=NOW,
    ),
    Topic.RISK_EVENT_RAISED_V2: RiskEventRaisedV2(
        risk_event_id=ID,
        organisation_id=ID,
        organisation_name="浙江宏远电器有限公司",
        signal_id=ID,
        signal_kind=SignalKind.SPOT_CHECK_FAILURE,
        rule_id="spot-check-failure",
        rule_version=1,
        severity=Severity.HIGH,
        recommended_measure=Measure.SPECIAL_AUDIT,
        title="t",
        summary="s",
        match=MATCH,
        raised_at=NOW,
        signal_published_on=date(2026, 11, 20),
        clocks=[AUDIT],
    ),
    Topic.RISK_EVENT_UPDATED_V2: RiskEventUpdatedV2(
        risk_event_id=ID,
        organisation_id=ID,
        status=RiskEventStatus.DECIDED,
        severity=Severity.HIGH,
        change="decided",
        decision=Measure.SPECIAL_AUDIT,
        updated_at=NOW,
        clocks=[AUDIT.model_copy(update={"state": ClockState.MET, "ended_on": date(2026, 12, 1)})],
    ),
    Topic.CERTIFICATE_STATUS_CHANGED: CertificateStatusChanged(
        certificate_id=ID,
        organisation_id=ID,
        number="2022010703004512",
        type="CCC",
        old_status=CertificateStatus.VALID,
        new_status=CertificateStatus.SUSPENDED,
        effective_on=date(2026, 11, 25),
        reason="spot check",
        decided_by="decider",
    ),
    Topic.API_TOKEN_CHANGED: ApiTokenChanged(
        token_id=ID, name="dm-wang", role="decision_maker", token_hash="0" * 64, created_by="admin", created_at=NOW
    ),
    Topic.ORGANISATION_UPDATED: OrganisationUpdated(organisation_id=ID, name="浙江宏远电器有限公司", updated_at=NOW),
    Topic.NOTIFICATION_DELIVERED: NotificationDelivered(
        notification_id=ID,
        organisation_id=ID,
        channel=Channel.EMAIL,
        recipient_masked="a***@example.com",
        template="risk_event_raised",
        attempts=1,
        delivered_at=NOW,
    ),
    Topic.NOTIFICATION_FAILED: NotificationFailed(
        notification_id=ID,
        organisation_id=ID,
        channel=Channel.SMS,
        recipient_masked="138****5678",
        template="risk_event_raised",
        attempts=3,
        error="gateway down",
        failed_at=NOW,
    ),
    Topic.ORGANISATION_RESPONDED: OrganisationResponded(
        response_id=ID,
        organisation_id=ID,
        organisation_name="浙江宏远电器有限公司",
        risk_event_id=ID,
        kind=ResponseKind.CORRECTIVE_ACTION_DONE,
        text="已完成整改",
        files=[
            EvidenceFile(file_id=ID, filename="整改报告.pdf", content_type="application/pdf", size=1, sha256="0" * 64)
        ],
        link_id=ID,
        responded_at=NOW,
    ),
    Topic.SELF_REPORTED: SelfReported(
        report_id=ID,
        organisation_id=ID,
        organisation_name="浙江宏远电器有限公司",
        problem=SelfReportProblem.SPOT_CHECK_FAILURE,
        description="自查发现一批电水壶抽检不合格",
        link_id=ID,
        reported_at=NOW,
    ),
}


def test_every_topic_has_an_example_and_a_dlq_name() -> None:
    assert set(EXAMPLES) == set(Topic) == set(PAYLOADS)
    assert all(t.dlq == f"{t.value}.dlq" for t in Topic)
    assert all(t.value.startswith(f"{t.producer}.") and t.value.rsplit(".", 1)[1].startswith("v") for t in Topic)


@pytest.mark.parametrize("topic", list(Topic), ids=str)
def test_envelope_round_trips_through_json(topic: Topic) -> None:
    envelope = Envelope[PAYLOADS[topic]](  # type: ignore[index]
        event_id=ID, event_type=topic.event_type, producer=topic.producer, payload=EXAMPLES[topic]
    )
    again = Envelope[PAYLOADS[topic]].model_validate_json(envelope.model_dump_json())  # type: ignore[index]
    assert again == envelope
    assert json.loads(envelope.model_dump_json())["payload"] == json.loads(EXAMPLES[topic].model_dump_json())


@pytest.mark.parametrize("topic", list(Topic), ids=str)
def test_schema_matches_the_committed_snapshot(topic: Topic) -> None:
    path = snapshot_path(topic)
    assert path.exists(), f"no snapshot for {topic}: run `make contracts` to add one for a new topic version"
    assert render(schema_of(topic)) == path.read_text(encoding="utf-8"), (
        f"the model of {topic} changed: a change to a published contract needs a new topic version "
        f"(e.g. {topic.value.rsplit('.v', 1)[0]}.v{int(topic.value.rsplit('.v', 1)[1]) + 1}); snapshots are never rewritten"
    )


def test_a_v1_signal_reads_as_v2_with_its_subject_as_the_only_party() -> None:
    v1 = EXAMPLES[Topic.SIGNAL_RECEIVED]
    v2 = SignalReceivedV2.model_validate_json(v1.model_dump_json())
    assert v2.parties == []
    assert [p.name for p in v2.all_parties()] == ["浙江宏远电器有限公司"]
    assert v2.all_parties()[0].credit_code == "91330212PDY0010123"


def test_a_v2_signal_stays_readable_by_a_v1_consumer() -> None:
    v2 = EXAMPLES[Topic.SIGNAL_RECEIVED_V2]
    v1 = SignalReceived.model_validate_json(v2.model_dump_json())
    assert v1.subject.name == "浙江甲食品有限公司"


def test_a_v2_risk_event_stays_readable_by_a_v1_consumer() -> None:
    """v2 only adds the clocks and the signal's date: notify, still on v1, reads the same event."""
    v2 = EXAMPLES[Topic.RISK_EVENT_RAISED_V2]
    assert RiskEventRaised.model_validate_json(v2.model_dump_json()).title == "t"
    assert RiskEventUpdated.model_validate_json(EXAMPLES[Topic.RISK_EVENT_UPDATED_V2].model_dump_json())


def test_a_running_clock_past_its_due_date_reads_missed_and_an_ended_one_keeps_its_state() -> None:
    assert AUDIT.state_on(date(2026, 12, 20)) is ClockState.RUNNING
    assert AUDIT.state_on(date(2026, 12, 21)) is ClockState.MISSED
    met = AUDIT.model_copy(update={"state": ClockState.MET, "ended_on": date(2026, 12, 1)})
    assert met.state_on(date(2027, 1, 1)) is ClockState.MET
    assert next_due([met, AUDIT.model_copy(update={"due_on": date(2026, 12, 24)}), AUDIT]) == date(2026, 12, 20)
    assert next_due([met]) is None


def test_v3_kinds_are_the_v2_kinds_and_the_corrections() -> None:
    """Every v2 kind reads as v3; only the kinds v2 cannot carry go on v3 (ingest keeps the rest on v2)."""
    assert {k.value for k in SignalKind} | {k.value for k in V3_ONLY_KINDS} == {k.value for k in SignalKindV3}
    assert not {k.value for k in V3_ONLY_KINDS} & {k.value for k in SignalKind}
    v2 = EXAMPLES[Topic.SIGNAL_RECEIVED_V2]
    assert SignalReceivedV3.model_validate_json(v2.model_dump_json()).correction is None
