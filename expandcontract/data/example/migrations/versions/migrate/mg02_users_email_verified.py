"""add email_verified to users (migrate)

Data only: fill email_verified for existing rows in batches, once every pod writes it.

Revision ID: mg02_users_email_verified
Revises:
"""
from alembic import op

revision = "mg02_users_email_verified"
down_revision = None
branch_labels = ("migrate",)
depends_on = "ex02_users_email_verified"

ec_change = "users-email-verified"
ec_phase = "migrate"
ec_reversible = True  # the undo of a backfill is to leave its values: the expand's downgrade drops them


def upgrade() -> None:
    op.backfill("users", values={"email_verified": "false"}, where="email_verified IS NULL")


def downgrade() -> None:
    pass  # the backfilled values can stay
