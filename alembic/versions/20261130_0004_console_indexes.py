"""messages: an index on (scenario, session_id) for the operator console's scenario filter

The console lists conversations that had a turn of a given scenario; without it each candidate
conversation's messages are read. On PostgreSQL it is built CONCURRENTLY (inserts keep flowing).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_messages_scenario_session_id"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(NAME, "messages", ["scenario", "session_id"], postgresql_concurrently=True)
        return
    op.create_index(NAME, "messages", ["scenario", "session_id"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(NAME, table_name="messages", postgresql_concurrently=True)
        return
    op.drop_index(NAME, table_name="messages")
