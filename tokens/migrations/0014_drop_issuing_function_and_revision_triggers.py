"""Token issuance is one ordinary transaction again: drop what the one-statement path needed.

Dropped on PostgreSQL: the issuing function (0012), the entitlement-revision triggers, their functions and
sequence (0010, 0011), and the per-query functions an earlier version generated after every ``migrate``
(``bfluence_q_*``, outside migration history). The column itself goes in communities 0007. Migrating
backwards creates them again (the later code does not use them).
"""

import importlib

from django.db import migrations

_DROP_GENERATED = """
DO $$
DECLARE signature text;
BEGIN
    FOR signature IN
        SELECT p.oid::regprocedure::text FROM pg_proc p
        WHERE starts_with(p.proname, 'bfluence_q_') AND p.pronamespace = current_schema()::regnamespace
    LOOP
        EXECUTE 'DROP FUNCTION ' || signature;
    END LOOP;
END $$;
"""


def _earlier(name: str):
    return importlib.import_module(f"tokens.migrations.{name}")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(_earlier("0012_issue_token_function").BACKWARD)
    schema_editor.execute(_earlier("0010_entitlement_revision_triggers").BACKWARD)
    schema_editor.execute(_DROP_GENERATED)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(_earlier("0010_entitlement_revision_triggers").FORWARD)
    _earlier("0011_revision_triggers_always")._enable("ALWAYS ")(apps, schema_editor)
    schema_editor.execute(_earlier("0012_issue_token_function").FORWARD)


class Migration(migrations.Migration):
    dependencies = [("tokens", "0013_client_models_move_to_clients")]
    operations = [migrations.RunPython(forwards, backwards)]
