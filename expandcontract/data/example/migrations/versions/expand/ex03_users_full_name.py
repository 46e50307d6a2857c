"""rename users.name to full_name (expand)

Add the new column and a trigger that keeps both columns in sync while old code writes `name` and new
code writes `full_name`. The trigger fires only when one of the two columns is written, and not for
the backfill's own writes (it runs with expandcontract.backfill = on).

Revision ID: ex03_users_full_name
Revises: ex02_users_email_verified
"""
from alembic import op
import sqlalchemy as sa

revision = "ex03_users_full_name"
down_revision = "ex02_users_email_verified"
branch_labels = None
depends_on = None

ec_change = "users-full-name"
ec_phase = "expand"
ec_renames = {"users.name": "users.full_name"}  # rehearse checks both releases see one value

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
    op.add_column("users", sa.Column("full_name", sa.Text(), nullable=True))
    op.execute(SYNC_FUNCTION)
    op.execute(
        "CREATE TRIGGER users_sync_full_name BEFORE INSERT OR UPDATE OF name, full_name ON users "
        "FOR EACH ROW EXECUTE FUNCTION users_sync_full_name()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER users_sync_full_name ON users")
    op.execute("DROP FUNCTION users_sync_full_name()")
    op.drop_column("users", "full_name")
