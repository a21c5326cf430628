"""open_events: the statutory clock due first (issue 15 §2), for the reviewers' digest

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("open_events", sa.Column("clock_due", sa.Date(), nullable=True))
    op.add_column("open_events", sa.Column("clock_kind", sa.String(length=30), nullable=True))
    op.add_column("open_events", sa.Column("clock_basis", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("open_events", "clock_basis")
    op.drop_column("open_events", "clock_kind")
    op.drop_column("open_events", "clock_due")
