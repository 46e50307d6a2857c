"""widen orders.id from integer to bigint (contract)

Swap the key in one short transaction: the NOT NULL proof comes from the validated check and the
unique index was built concurrently in the expand, so nothing here scans or rebuilds the table.

Revision ID: ct04_orders_id_bigint
Revises: ct03_users_full_name
"""
from alembic import op

revision = "ct04_orders_id_bigint"
down_revision = "ct03_users_full_name"
branch_labels = None
depends_on = "mg04_orders_id_bigint"

ec_change = "orders-id-bigint"
ec_phase = "contract"
ec_reversible = False
ec_reason = "swapping the primary key back is a change of its own (expand a new int column again)"


def upgrade() -> None:
    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT orders_id_new_not_null")
    op.execute("ALTER TABLE orders ALTER COLUMN id_new SET NOT NULL")
    op.execute("ALTER TABLE orders DROP CONSTRAINT orders_id_new_not_null")
    op.execute("ALTER TABLE orders DROP CONSTRAINT orders_pkey")
    op.execute("ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_id_new_key")
    op.execute("ALTER TABLE orders ALTER COLUMN id_new SET DEFAULT nextval('orders_id_seq')")
    op.execute("ALTER SEQUENCE orders_id_seq OWNED BY orders.id_new")
    op.execute("ALTER SEQUENCE orders_id_seq AS bigint")
    op.execute("DROP TRIGGER orders_sync_id_new ON orders")
    op.execute("DROP FUNCTION orders_sync_id_new()")
    op.execute("ALTER TABLE orders DROP COLUMN id")
    op.execute("ALTER TABLE orders RENAME COLUMN id_new TO id")


def downgrade() -> None:
    raise NotImplementedError(ec_reason)
