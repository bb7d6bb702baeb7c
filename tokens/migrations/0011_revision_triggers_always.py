"""The entitlement-revision triggers (0010) fire ALWAYS, also where ``session_replication_role`` is
``replica``: a logical-replication apply, ``pg_restore`` with that role, a by-hand fix under it. Those
writes change who gets a token as much as any other, and a revision that did not move would let a
process keep trusting what it kept (tokens/services/secret_memory.py, issuing_statement.py)."""

from django.db import migrations

TRIGGERS = {
    "communities_community": "communities_community_revise",
    "tokens_clientsecret": "tokens_clientsecret_revise",
    "tokens_clientkey": "tokens_clientkey_revise",
    "tokens_clientauthpolicy": "tokens_clientauthpolicy_revise",
}


def _enable(mode: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table, trigger in TRIGGERS.items():
                schema_editor.execute(f"ALTER TABLE {table} ENABLE {mode}TRIGGER {trigger}")

    return run


class Migration(migrations.Migration):
    dependencies = [("tokens", "0010_entitlement_revision_triggers")]
    operations = [migrations.RunPython(_enable("ALWAYS "), _enable(""))]
