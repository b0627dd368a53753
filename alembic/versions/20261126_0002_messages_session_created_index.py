"""messages: one index on (session_id, created_at, id) for a conversation's newest messages

Replaces ix_messages_session_id (its prefix). On PostgreSQL both steps run CONCURRENTLY, so a large
messages table keeps taking inserts while the index is built.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW = "ix_messages_session_id_created_at"
OLD = "ix_messages_session_id"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(NEW, "messages", ["session_id", "created_at", "id"], postgresql_concurrently=True)
            op.drop_index(OLD, table_name="messages", postgresql_concurrently=True)
        return
    with op.batch_alter_table("messages") as batch_op:
        batch_op.create_index(NEW, ["session_id", "created_at", "id"], unique=False)
        batch_op.drop_index(OLD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(OLD, "messages", ["session_id"], postgresql_concurrently=True)
            op.drop_index(NEW, table_name="messages", postgresql_concurrently=True)
        return
    with op.batch_alter_table("messages") as batch_op:
        batch_op.create_index(OLD, ["session_id"], unique=False)
        batch_op.drop_index(NEW)
