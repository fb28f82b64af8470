"""the timeline and the audit log are append-only in the database itself

The ORM already refuses to change or delete their rows; these triggers make the database
refuse it too, whoever connects and whatever they run: no UPDATE ever, and no DELETE of a
row younger than 20 years, the legal retention of a medical record (Code de la santé
publique, art. R.1112-7), which `flask retention purge` alone reaches.

Revision ID: 0004
Revises: 350cd99605fe
Create Date: 2026-11-24 10:10:00

"""
from alembic import op


revision = '0004'
down_revision = '350cd99605fe'
branch_labels = None
depends_on = None

TABLES = ("call_events", "audit_log")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION sas_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'DELETE' AND OLD.at < now() - interval '20 years' THEN
                RETURN OLD;
              END IF;
              RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION sas_append_only()"
            )
        return
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "WHEN OLD.at >= datetime('now', '-20 years') "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION sas_append_only()")
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_no_update")
        op.execute(f"DROP TRIGGER {table}_no_delete")
