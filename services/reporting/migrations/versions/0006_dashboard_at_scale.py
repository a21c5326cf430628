"""dashboard at scale: the statutory clocks' timeliness in the daily aggregate (due, met, missed and days per clock
kind on each due day, kept by the consumer), an index for the open events newest first, and the aggregate's index
covering what the dashboard sums (its twelve months read from the index alone) (issue 16 §2: the main page and its
drill-downs with 1M risk events)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the consumer adds per clock (services/reporting/service.py, _clock_tallies), rebuilt from the clocks here;
# a migration is a snapshot, so it keeps its own copy of the statement (repository.REBUILD_DAILY_TALLIES).
BACKFILL = """
INSERT INTO daily_tallies (day, metric, dimension, value)
SELECT due_on, m.metric, m.dimension, count(*) FROM clocks CROSS JOIN LATERAL (VALUES ('clock_due', kind),
  ('clock_' || state, CASE WHEN state IN ('met', 'missed') THEN kind END),
  ('clock_days', CASE WHEN ended_on IS NOT NULL
    THEN kind || ':' || (ended_on - coalesce(signal_published_on, starts_on)) END)) AS m(metric, dimension)
WHERE state <> 'void' AND m.dimension IS NOT NULL
GROUP BY due_on, m.metric, m.dimension
ON CONFLICT (day, metric, dimension) DO UPDATE SET value = EXCLUDED.value
"""
METRICS = "('clock_due', 'clock_met', 'clock_missed', 'clock_days')"


def upgrade() -> None:
    op.drop_index("ix_daily_tallies_metric_day", table_name="daily_tallies")
    op.create_index(
        "ix_daily_tallies_metric_day", "daily_tallies", ["metric", "day"], postgresql_include=["dimension", "value"]
    )
    op.create_index(
        "ix_risk_events_open_raised_at",
        "risk_events",
        ["raised_at"],
        unique=False,
        postgresql_include=["decision_due", "risk_event_id"],
        postgresql_where=sa.text("status IN ('open', 'in_review')"),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute(f"DELETE FROM daily_tallies WHERE metric IN {METRICS}")
    op.drop_index("ix_risk_events_open_raised_at", table_name="risk_events")
    op.drop_index("ix_daily_tallies_metric_day", table_name="daily_tallies")
    op.create_index("ix_daily_tallies_metric_day", "daily_tallies", ["metric", "day"])
