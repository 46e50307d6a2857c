<%
    phase = config.attributes.get("ec_phase")
    change = config.attributes.get("ec_change")
    doc = config.attributes.get("ec_doc")
    module = config.attributes.get("ec_module")
    todo = {
        "expand": "additive only: new nullable columns, new tables, CREATE INDEX CONCURRENTLY in op.get_context().autocommit_block(), constraints NOT VALID, sync triggers",
        "migrate": "data only: op.backfill(table, values={...}, where=...) runs a batched, resumable backfill",
        "contract": "remove the old shape: drop old columns/triggers, VALIDATE constraints, SET NOT NULL",
    }.get(phase, "write the migration")
    undo = {
        "expand": "undo the expand (drop what upgrade added)",
        "migrate": "usually nothing: the backfilled data can stay",
        "contract": "restore the old shape (re-add the column as nullable, recreate the trigger)",
    }.get(phase, "undo upgrade()")
%>"""${message}
% if doc:

${doc}
% endif

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}
% if phase:

# expandcontract: the change this revision belongs to and its phase.
ec_change = ${repr(change)}
ec_phase = ${repr(phase)}
% if phase == "migrate" and module is None:
ec_reversible = True  # the undo of a backfill is to leave its values: the expand's downgrade drops them
% endif
% if module:
${module}
% endif
% endif


def upgrade() -> None:
% if upgrades:
    ${upgrades}
% else:
    # TODO: ${todo}
    pass
% endif


def downgrade() -> None:
% if downgrades:
    ${downgrades}
% else:
    # TODO: ${undo}
    pass
% endif
