"""Alembic environment: the DSN comes from Settings (DATABASE_URL), never from alembic.ini."""

from __future__ import annotations

from collections.abc import Callable
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.sql.schema import SchemaItem

from backend.core.config import Settings, get_settings
from backend.core.database import create_sync_db_engine
from backend.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _settings() -> Settings:
    """Settings from the environment; tests may pass ``database_url`` in config.attributes."""
    override = config.attributes.get("database_url")
    return Settings(DATABASE_URL=override) if override else get_settings()


def _for_dialect(dialect: str) -> Callable[[SchemaItem, str | None, str, bool, SchemaItem | None], bool]:
    """Autogenerate's filter: a model index or constraint declared for other databases only
    (``.ddl_if(dialect=...)``, e.g. the PostgreSQL trigram index) is not expected in this one. Everything
    else, and anything found in the database, is compared as usual."""

    def include(item: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None) -> bool:
        rule = getattr(item, "_ddl_if", None)  # set by HasConditionalDDL.ddl_if()
        if reflected or rule is None or rule.dialect is None:
            return True
        return dialect == rule.dialect if isinstance(rule.dialect, str) else dialect in rule.dialect

    return include


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_for_dialect(connection.dialect.name),
        # Each revision commits with its own version bump. Revisions that build an index CONCURRENTLY
        # commit what ran before them (an autocommit block); in one shared transaction a later failure
        # would then roll the version back below an index that stays, and the rerun would stop there.
        transaction_per_migration=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_settings().database_url_sync,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_sync_db_engine(_settings())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
