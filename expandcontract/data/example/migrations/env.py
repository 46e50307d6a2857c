"""Alembic environment. expandcontract runs each revision in its own transaction, records phase state
beside alembic_version, and resolves the database (DATABASE_URL, [tool.expandcontract], embedded)."""

from expandcontract.env import run_migrations

# Point this at your models' MetaData to use `alembic revision --autogenerate`.
target_metadata = None

run_migrations(target_metadata)
