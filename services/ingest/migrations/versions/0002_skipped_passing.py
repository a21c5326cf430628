"""feed_runs.skipped_passing: rows judged 合格 that raise no signal

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("feed_runs", sa.Column("skipped_passing", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("feed_runs", "skipped_passing")
