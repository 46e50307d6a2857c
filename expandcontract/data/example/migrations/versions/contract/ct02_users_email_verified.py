"""add email_verified to users (contract)

The backfill has filled every row, so a NOT NULL check can be added now (NOT VALID: a short lock, no
scan) and validated in a transaction of its own (the scan holds only SHARE UPDATE EXCLUSIVE, which
does not block writes; in the same transaction it would keep the ADD's ACCESS EXCLUSIVE lock through
the scan). SET NOT NULL then needs no second scan (PostgreSQL 12+ proves it from the validated check),
and the check is dropped. Re-runnable: the check is dropped first if an earlier attempt left it.

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
    op.execute("ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_verified_not_null")
    op.execute(
        "ALTER TABLE users ADD CONSTRAINT users_email_verified_not_null "
        "CHECK (email_verified IS NOT NULL) NOT VALID"
    )
    with op.get_context().autocommit_block():
        op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_email_verified_not_null")
    op.alter_column("users", "email_verified", existing_type=sa.Boolean(), nullable=False)
    op.drop_constraint("users_email_verified_not_null", "users", type_="check")


def downgrade() -> None:
    op.alter_column("users", "email_verified", existing_type=sa.Boolean(), nullable=True)
