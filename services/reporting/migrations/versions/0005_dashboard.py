"""dashboard: a daily aggregate (per local day, metric and dimension) the consumer keeps, the risk events'
signal and match, notifications per event, and indexes for the dashboard's drill-down (issue 16 §2)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same aggregate the consumer keeps (services/reporting/service.py), rebuilt from the rows already here;
# a migration is a snapshot, so it keeps its own copy of the statement (repository.REBUILD_DAILY_TALLIES).
BACKFILL = """
INSERT INTO daily_tallies (day, metric, dimension, value)
SELECT day, metric, dimension, count(*) FROM (
  SELECT (raised_at AT TIME ZONE 'Asia/Shanghai')::date AS day, m.metric, m.dimension
  FROM risk_events CROSS JOIN LATERAL (VALUES ('raised', 'all'), ('raised_by_kind', signal_kind),
    ('raised_by_severity', severity), ('raised_by_province', coalesce(province, 'unknown'))) AS m(metric, dimension)
  UNION ALL
  SELECT (raised_at AT TIME ZONE 'Asia/Shanghai')::date, 'raised_by_certificate_type', t
  FROM risk_events CROSS JOIN LATERAL unnest(string_to_array(coalesce(nullif(certificate_types, ''), 'none'), ',')) AS t
  UNION ALL
  SELECT (decided_at AT TIME ZONE 'Asia/Shanghai')::date, 'decided_by_measure', coalesce(decision, 'none')
  FROM risk_events WHERE decided_at IS NOT NULL
  UNION ALL
  SELECT (coalesce(decided_at, closed_at) AT TIME ZONE 'Asia/Shanghai')::date, 'resolved', 'all'
  FROM risk_events WHERE status NOT IN ('open', 'in_review') AND coalesce(decided_at, closed_at) IS NOT NULL
  UNION ALL
  SELECT decision_due, 'due', 'all' FROM risk_events WHERE decision_due IS NOT NULL
  UNION ALL
  SELECT greatest(decision_due, (coalesce(decided_at, closed_at) AT TIME ZONE 'Asia/Shanghai')::date),
    'due_resolved', 'all'
  FROM risk_events
  WHERE decision_due IS NOT NULL AND status NOT IN ('open', 'in_review') AND coalesce(decided_at, closed_at) IS NOT NULL
  UNION ALL
  SELECT ended_on, 'decision_days', (ended_on - coalesce(signal_published_on, starts_on))::text
  FROM clocks
  WHERE ended_on IS NOT NULL AND state <> 'void' AND kind IN ('short_notice_audit', 'suspension', 'withdrawal')
) AS facts GROUP BY day, metric, dimension
"""


def upgrade() -> None:
    op.create_table(
        "daily_tallies",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=60), nullable=False),
        sa.Column("dimension", sa.String(length=200), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "metric", "dimension", name=op.f("pk_daily_tallies")),
    )
    op.create_index("ix_daily_tallies_metric_day", "daily_tallies", ["metric", "day"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("risk_event_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient_masked", sa.String(length=200), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_risk_event_id"), "notifications", ["risk_event_id"], unique=False)
    op.create_index(op.f("ix_notifications_organisation_id"), "notifications", ["organisation_id"], unique=False)
    for name, column in (
        ("signal_id", sa.Uuid()),
        ("rule_id", sa.String(length=100)),
        ("title", sa.Text()),
        ("summary", sa.Text()),
        ("match_method", sa.String(length=50)),
        ("match_score", sa.Float()),
        ("match_explanation", sa.Text()),
        ("certificates", sa.Text()),
    ):
        op.add_column("risk_events", sa.Column(name, column, nullable=True))
    op.create_index("ix_risk_events_signal_kind_raised_at", "risk_events", ["signal_kind", "raised_at"], unique=False)
    op.create_index("ix_risk_events_status_raised_at", "risk_events", ["status", "raised_at"], unique=False)
    op.create_index("ix_risk_events_decided_at", "risk_events", ["decided_at"], unique=False)
    op.create_index(
        "ix_risk_events_open_due",
        "risk_events",
        ["decision_due"],
        unique=False,
        postgresql_where=sa.text("status IN ('open', 'in_review')"),
    )
    op.create_index(
        "ix_clocks_due_on_timeliness",
        "clocks",
        ["due_on"],
        unique=False,
        postgresql_include=["kind", "state", "ended_on", "starts_on", "signal_published_on"],
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_clocks_due_on_timeliness", table_name="clocks")
    for index in (
        "ix_risk_events_open_due",
        "ix_risk_events_decided_at",
        "ix_risk_events_status_raised_at",
        "ix_risk_events_signal_kind_raised_at",
    ):
        op.drop_index(index, table_name="risk_events")
    for name in ("certificates", "match_explanation", "match_score", "match_method", "summary", "title", "rule_id",
                 "signal_id"):  # fmt: skip
        op.drop_column("risk_events", name)
    op.drop_table("notifications")
    op.drop_table("daily_tallies")
