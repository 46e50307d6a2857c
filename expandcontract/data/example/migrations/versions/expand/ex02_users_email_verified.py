"""add email_verified to users (expand)

A nullable column with a default for new rows: old code (which never writes the column) keeps
working, new code writes it. No NOT NULL check yet: PostgreSQL enforces even a NOT VALID check on every
new row version, so every UPDATE of a row the backfill has not reached would fail. The contract adds it.

Revision ID: ex02_users_email_verified
Revises: ex01_initial_schema
"""
from alembic import op
import sqlalchemy as sa

revision = "ex02_users_email_verified"
down_revision = "ex01_initial_schema"
branch_labels = None
depends_on = None

ec_change = "users-email-verified"
ec_phase = "expand"


def upgrade() -> None:
    op.add_column("users", sa.Column("email_verified", sa.Boolean(), nullable=True))
    op.alter_column("users", "email_verified", server_default=sa.false())


def downgrade() -> None:
    op.drop_column("users", "email_verified")
