"""rename users.name to full_name (contract)

No pod reads or writes `name` any more: drop the sync trigger and the old column.

Revision ID: ct03_users_full_name
Revises: ct02_users_email_verified
"""
from alembic import op
import sqlalchemy as sa

revision = "ct03_users_full_name"
down_revision = "ct02_users_email_verified"
branch_labels = None
depends_on = "mg03_users_full_name"

ec_change = "users-full-name"
ec_phase = "contract"

SYNC_FUNCTION = """
CREATE FUNCTION users_sync_full_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('expandcontract.backfill', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.full_name := coalesce(NEW.full_name, NEW.name);
        NEW.name := coalesce(NEW.name, NEW.full_name);
    ELSIF NEW.name IS DISTINCT FROM OLD.name AND NEW.full_name IS NOT DISTINCT FROM OLD.full_name THEN
        NEW.full_name := NEW.name;
    ELSIF NEW.full_name IS DISTINCT FROM OLD.full_name AND NEW.name IS NOT DISTINCT FROM OLD.name THEN
        NEW.name := NEW.full_name;
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute("DROP TRIGGER users_sync_full_name ON users")
    op.execute("DROP FUNCTION users_sync_full_name()")
    op.drop_column("users", "name")


def downgrade() -> None:
    # Restore the old shape and its data so old code can run again (a rollback target): the column and
    # the sync trigger first (both releases' writes are copied from then on), then the rows written since
    # the contract, in committed batches (a backfill of its own name: the migrate's is users-full-name.users).
    op.add_column("users", sa.Column("name", sa.Text(), nullable=True))
    op.execute(SYNC_FUNCTION)
    op.execute(
        "CREATE TRIGGER users_sync_full_name BEFORE INSERT OR UPDATE OF name, full_name ON users "
        "FOR EACH ROW EXECUTE FUNCTION users_sync_full_name()"
    )
    op.backfill(
        "users",
        values={"name": "full_name"},
        where="name IS NULL AND full_name IS NOT NULL",
        name="users-full-name.users-rollback",
    )
