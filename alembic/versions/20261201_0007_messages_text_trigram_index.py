"""messages: a trigram index on text for the operator console's search (PostgreSQL only)

The console's search is ``ILIKE '%…%'`` over ``messages.text``; without an index it reads every
message. A GIN index with ``gin_trgm_ops`` (extension pg_trgm) answers it for patterns of three
characters or more. It is built CONCURRENTLY (inserts keep flowing). SQLite gets nothing: its
search stays a scan (the model declares the index for PostgreSQL only).

pg_trgm is created if missing. It is a trusted extension since PostgreSQL 13: the database's owner
(or any role with CREATE on the database) may create it. A role that may not stops the upgrade here
with a message that says what to run (docs/OPERATIONS.md, "Migrations"); nothing of this revision
is applied then. The downgrade drops the index but leaves the extension: it belongs to the database,
not to this schema (other schemas or tools may use it, a superuser may have created it before us),
and an unused extension costs nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 23:00:00
"""

from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_messages_text_trgm"


def _create_extension() -> None:
    bind = op.get_bind()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        raise RuntimeError(
            f"migration 0007 needs the PostgreSQL extension pg_trgm and could not create it "
            f"({' '.join(str(exc.orig).split())}). Have a superuser run `CREATE EXTENSION pg_trgm;` in "
            f"database {bind.engine.url.database!r} (a server without it needs PostgreSQL's contrib "
            f"modules installed first), then run `alembic upgrade head` again; see docs/OPERATIONS.md, "
            f"Migrations."
        ) from exc


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _create_extension()
    with op.get_context().autocommit_block():
        # A build that failed halfway (cancelled, out of disk) leaves an INVALID index of this name.
        op.drop_index(NAME, table_name="messages", postgresql_concurrently=True, if_exists=True)
        op.create_index(
            NAME,
            "messages",
            ["text"],
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        op.drop_index(NAME, table_name="messages", postgresql_concurrently=True)
