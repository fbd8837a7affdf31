"""Schema migrations: the migrated schema is the models' schema; older databases are adopted without loss."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, insert, select, text

from service.store import open_database
from service.store.models import feedback, metadata


def url_for(database_url: str, tmp_path) -> str:
    return database_url or f"sqlite:///{tmp_path}/db.sqlite3"


def test_migrated_schema_matches_the_models(database_url, tmp_path):
    engine = open_database(url_for(database_url, tmp_path))
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert differences == [] and version == "0001"
    open_database(url_for(database_url, tmp_path))  # a second start changes nothing


def test_a_database_made_before_migrations_is_adopted(database_url, tmp_path):
    url = url_for(database_url, tmp_path)
    old = create_engine(url)
    metadata.create_all(old)  # how earlier versions made their tables
    with old.begin() as connection:
        connection.execute(insert(feedback).values(
            dedup_key="k", service_id="s", card_uuid="c", outcome="overridden",
            outcome_timestamp=func.now(), received_at=func.now()))  # fmt: skip
    old.dispose()
    engine = open_database(url)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(feedback)).scalar_one() == 1
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
