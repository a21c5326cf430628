"""risk_events: (status, created_at) and (severity, created_at), replacing the single-column indexes: a list
filtered by status or severity reads its page newest first from one index instead of filtering the whole
created_at order (issue 13 item 5, bench/bench_api.py)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_risk_events_status_created_at", "risk_events", ["status", "created_at"])
    op.create_index("ix_risk_events_severity_created_at", "risk_events", ["severity", "created_at"])
    op.drop_index("ix_risk_events_status", table_name="risk_events")
    op.drop_index("ix_risk_events_severity", table_name="risk_events")


def downgrade() -> None:
    op.create_index("ix_risk_events_severity", "risk_events", ["severity"])
    op.create_index("ix_risk_events_status", "risk_events", ["status"])
    op.drop_index("ix_risk_events_severity_created_at", table_name="risk_events")
    op.drop_index("ix_risk_events_status_created_at", table_name="risk_events")
