"""SQL as the linter sees it: statements parsed by PostgreSQL's own parser (pglast), their source
positions, lock facts, type facts, and Alembic revisions rendered to SQL offline, op by op.

Nothing here imports SQLAlchemy or Alembic at module level except `alembic_capture`, which the .sql lint
path never imports.
"""
