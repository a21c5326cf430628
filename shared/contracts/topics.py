"""Topic names and the one payload model each carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from shared.contracts.ingest import FeedRunCompleted, SignalReceived, SignalReceivedV2, SignalReceivedV3
from shared.contracts.notify import NotificationDelivered, NotificationFailed, OrganisationResponded, SelfReported
from shared.contracts.rules import (
    ApiTokenChanged,
    CertificateStatusChanged,
    OrganisationUpdated,
    RiskEventRaised,
    RiskEventRaisedV2,
    RiskEventUpdated,
    RiskEventUpdatedV2,
)


class Topic(StrEnum):
    """`<producer>.<event>.v<N>`: a breaking change is a new vN."""

    SIGNAL_RECEIVED = "ingest.signal-received.v1"  # still read: what was published before v2
    SIGNAL_RECEIVED_V2 = "ingest.signal-received.v2"
    SIGNAL_RECEIVED_V3 = "ingest.signal-received.v3"  # only the kinds v2 cannot carry: corrections (issue 15 §3)
    FEED_RUN_COMPLETED = "ingest.feed-run-completed.v1"
    RISK_EVENT_RAISED = "rules.risk-event-raised.v1"
    RISK_EVENT_UPDATED = "rules.risk-event-updated.v1"
    RISK_EVENT_RAISED_V2 = "rules.risk-event-raised.v2"  # with the statutory clocks; v1 goes on beside it
    RISK_EVENT_UPDATED_V2 = "rules.risk-event-updated.v2"  # until notify reads v2
    CERTIFICATE_STATUS_CHANGED = "rules.certificate-status-changed.v1"
    ORGANISATION_UPDATED = "rules.organisation-updated.v1"
    API_TOKEN_CHANGED = "rules.api-token-changed.v1"  # every service keeps a copy of the tokens
    NOTIFICATION_DELIVERED = "notify.notification-delivered.v1"
    NOTIFICATION_FAILED = "notify.notification-failed.v1"
    ORGANISATION_RESPONDED = "notify.organisation-responded.v1"  # acknowledged, replied, disputed, evidence (§1)
    SELF_REPORTED = "notify.self-reported.v1"  # 自查自纠: a signal of kind self_report, screened by rules

    @property
    def producer(self) -> str:
        return self.value.split(".", 1)[0]

    @property
    def event_type(self) -> str:
        """The envelope's event_type: the topic name without the producer, e.g. `signal-received.v1`."""
        return self.value.split(".", 1)[1]

    @property
    def dlq(self) -> str:
        return f"{self.value}.dlq"


PAYLOADS: dict[Topic, type[BaseModel]] = {
    Topic.SIGNAL_RECEIVED: SignalReceived,
    Topic.SIGNAL_RECEIVED_V2: SignalReceivedV2,
    Topic.SIGNAL_RECEIVED_V3: SignalReceivedV3,
    Topic.FEED_RUN_COMPLETED: FeedRunCompleted,
    Topic.RISK_EVENT_RAISED: RiskEventRaised,
    Topic.RISK_EVENT_UPDATED: RiskEventUpdated,
    Topic.RISK_EVENT_RAISED_V2: RiskEventRaisedV2,
    Topic.RISK_EVENT_UPDATED_V2: RiskEventUpdatedV2,
    Topic.CERTIFICATE_STATUS_CHANGED: CertificateStatusChanged,
    Topic.ORGANISATION_UPDATED: OrganisationUpdated,
    Topic.API_TOKEN_CHANGED: ApiTokenChanged,
    Topic.NOTIFICATION_DELIVERED: NotificationDelivered,
    Topic.NOTIFICATION_FAILED: NotificationFailed,
    Topic.ORGANISATION_RESPONDED: OrganisationResponded,
    Topic.SELF_REPORTED: SelfReported,
}
