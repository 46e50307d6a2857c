"""rename users.name to full_name (migrate)

Revision ID: mg03_users_full_name
Revises: mg02_users_email_verified
"""
from alembic import op

revision = "mg03_users_full_name"
down_revision = "mg02_users_email_verified"
branch_labels = None
depends_on = "ex03_users_full_name"

ec_change = "users-full-name"
ec_phase = "migrate"
ec_reversible = True  # the undo of a backfill is to leave its values: the expand's downgrade drops them


def upgrade() -> None:
    op.backfill("users", values={"full_name": "name"}, where="full_name IS NULL AND name IS NOT NULL")


def downgrade() -> None:
    pass  # the copied values can stay
