"""chat_sessions: the handoff to a human (state, the manager who took it, when it changed)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from backend.core.orm import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_sessions") as batch:
        batch.add_column(sa.Column("handoff_state", sa.String(length=16), server_default="assistant", nullable=False))
        batch.add_column(sa.Column("handoff_by", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("handoff_at", UTCDateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "fk_chat_sessions_handoff_by_users", "users", ["handoff_by"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_sessions") as batch:
        batch.drop_constraint("fk_chat_sessions_handoff_by_users", type_="foreignkey")
        batch.drop_column("handoff_at")
        batch.drop_column("handoff_by")
        batch.drop_column("handoff_state")
