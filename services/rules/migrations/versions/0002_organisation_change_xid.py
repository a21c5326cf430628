"""organisations.change_xid: the transaction that last wrote each organisation

The live matcher index used to read organisations with `updated_at >= watermark`, which misses a
transaction that started before the watermark's and committed after it. It now reads rows written by
transactions not yet finished at its last read (`change_xid >= pg_snapshot_xmin(...)`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_XID = "(pg_current_xact_id()::text)::bigint"


def upgrade() -> None:
    op.add_column(
        "organisations",
        sa.Column("change_xid", sa.BigInteger(), server_default=sa.text(CURRENT_XID), nullable=False),
    )
    op.create_index(op.f("ix_organisations_change_xid"), "organisations", ["change_xid"], unique=False)
    op.execute(
        f"CREATE FUNCTION stamp_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN NEW.change_xid := {CURRENT_XID}; RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER organisations_change_xid BEFORE INSERT OR UPDATE ON organisations "
        "FOR EACH ROW EXECUTE FUNCTION stamp_change_xid()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER organisations_change_xid ON organisations")
    op.execute("DROP FUNCTION stamp_change_xid()")
    op.drop_index(op.f("ix_organisations_change_xid"), table_name="organisations")
    op.drop_column("organisations", "change_xid")
