"""add email_verified to users (contract)

Validate the NOT NULL check (a scan that does not block writes), then SET NOT NULL, which PostgreSQL
12+ proves from the validated check without a second scan, and drop the now redundant check.

Revision ID: ct02_users_email_verified
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "ct02_users_email_verified"
down_revision = None
branch_labels = ("contract",)
depends_on = "mg02_users_email_verified"

ec_change = "users-email-verified"
ec_phase = "contract"


def upgrade() -> None:
    op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_email_verified_not_null")
    op.alter_column("users", "email_verified", existing_type=sa.Boolean(), nullable=False)
    op.drop_constraint("users_email_verified_not_null", "users", type_="check")


def downgrade() -> None:
    op.execute(
        "ALTER TABLE users ADD CONSTRAINT users_email_verified_not_null "
        "CHECK (email_verified IS NOT NULL) NOT VALID"
    )
    op.alter_column("users", "email_verified", existing_type=sa.Boolean(), nullable=True)
