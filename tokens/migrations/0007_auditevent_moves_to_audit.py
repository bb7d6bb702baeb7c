"""AuditEvent now lives in the `audit` app (audit/migrations/0001_initial.py): forget it here, keep its table."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("tokens", "0006_revocationrequest_secrets_suspended"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
