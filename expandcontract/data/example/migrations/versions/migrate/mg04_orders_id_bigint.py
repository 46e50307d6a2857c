"""widen orders.id from integer to bigint (migrate)

Revision ID: mg04_orders_id_bigint
Revises: mg03_users_full_name
"""
from alembic import op

revision = "mg04_orders_id_bigint"
down_revision = "mg03_users_full_name"
branch_labels = None
depends_on = "ex04_orders_id_bigint"

ec_change = "orders-id-bigint"
ec_phase = "migrate"
ec_reversible = True  # the undo of a backfill is to leave its values: the expand's downgrade drops them


def upgrade() -> None:
    op.backfill("orders", values={"id_new": "id"}, where="id_new IS NULL")


def downgrade() -> None:
    pass  # the copied keys can stay
