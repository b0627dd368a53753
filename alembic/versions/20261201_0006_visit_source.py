"""chat_sessions: where the visitor came from (landing page, referrer, UTM tags), one column each

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("landing_page", 1000),
    ("referrer", 1000),
    ("utm_source", 200),
    ("utm_medium", 200),
    ("utm_campaign", 200),
    ("utm_term", 200),
    ("utm_content", 200),
)


def upgrade() -> None:
    with op.batch_alter_table("chat_sessions") as batch:
        for name, length in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_sessions") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
