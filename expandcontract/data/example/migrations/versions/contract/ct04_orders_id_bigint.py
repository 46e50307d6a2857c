"""widen orders.id from integer to bigint (contract)

Prove id_new NOT NULL with a check added NOT VALID and validated in a transaction of its own (the scan
does not block writes), then swap the key in one short transaction: SET NOT NULL comes from the
validated check and the unique index was built concurrently in the expand, so nothing in the swap
scans or rebuilds the table.

The swap changes the type of the column named `id` from integer to bigint under the running release:
its statements that psycopg prepared keep their result types, and PostgreSQL refuses to run them
("cached plan must not change result type"). The release that runs now reads the key as
CAST(id AS BIGINT) (app/releases/orders_id_bigint.py), so its results are bigint before and after.

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
    op.execute("ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_id_new_not_null")
    op.execute("ALTER TABLE orders ADD CONSTRAINT orders_id_new_not_null CHECK (id_new IS NOT NULL) NOT VALID")
    with op.get_context().autocommit_block():
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
