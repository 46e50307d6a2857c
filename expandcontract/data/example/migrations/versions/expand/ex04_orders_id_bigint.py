"""widen orders.id from integer to bigint (expand)

A new bigint column kept equal to id by a trigger on INSERT and on UPDATE OF id (the backfill fills
the rows that exist), and its unique index built concurrently (outside the transaction). The old int
key keeps serving. No NOT NULL check on id_new yet: even NOT VALID, it would make every UPDATE of a row
the backfill has not reached fail; the contract adds it. Safe to run again after a failure part-way (the
index build commits what ran before it).

Revision ID: ex04_orders_id_bigint
Revises: ex03_users_full_name
"""
from alembic import op

revision = "ex04_orders_id_bigint"
down_revision = "ex03_users_full_name"
branch_labels = None
depends_on = None

ec_change = "orders-id-bigint"
ec_phase = "expand"


def upgrade() -> None:
    # SQL rather than add_column(if_not_exists=True), which needs Alembic 1.16 (the example runs on 1.13 too)
    op.execute("ALTER TABLE orders ADD COLUMN IF NOT EXISTS id_new bigint")
    op.execute(
        "CREATE OR REPLACE FUNCTION orders_sync_id_new() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN NEW.id_new := NEW.id; RETURN NEW; END $$"
    )
    op.execute("DROP TRIGGER IF EXISTS orders_sync_id_new ON orders")
    op.execute(
        "CREATE TRIGGER orders_sync_id_new BEFORE INSERT OR UPDATE OF id ON orders "
        "FOR EACH ROW EXECUTE FUNCTION orders_sync_id_new()"
    )
    # expandcontract: ignore[statements-before-autocommit-block] the DDL stays in the transaction the runner retries on a lock timeout; every statement is safe to run again
    with op.get_context().autocommit_block():
        op.create_index(
            "orders_id_new_key", "orders", ["id_new"], unique=True, postgresql_concurrently=True, if_not_exists=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("orders_id_new_key", table_name="orders", postgresql_concurrently=True)
    op.execute("DROP TRIGGER orders_sync_id_new ON orders")
    op.execute("DROP FUNCTION orders_sync_id_new()")
    op.drop_column("orders", "id_new")
