import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def record_keys_of_live_tokens(apps, schema_editor):
    """Tokens still live that a partner key obtained: their ``token_issued`` audit row names the key
    (``client_key_id``), so retiring that key revokes them too."""
    AuditEvent = apps.get_model("audit", "AuditEvent")
    IssuedToken = apps.get_model("tokens", "IssuedToken")
    live = set(IssuedToken.objects.filter(expires_at__gt=timezone.now()).values_list("jti", flat=True))
    if not live:
        return
    issued = AuditEvent.objects.filter(event_type="token_issued", details__has_key="client_key_id")
    for jti, details in issued.values_list("jti", "details").iterator():
        if jti in live:
            IssuedToken.objects.filter(jti=jti).update(client_key_id=details["client_key_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_labels_in_portuguese"),
        ("clients", "0001_initial"),
        ("tokens", "0014_drop_issuing_function_and_revision_triggers"),
    ]

    operations = [
        migrations.AddField(
            model_name="issuedtoken",
            name="client_key",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="issued_tokens",
                to="clients.clientkey",
                verbose_name="client key",
            ),
        ),
        migrations.RunPython(record_keys_of_live_tokens, migrations.RunPython.noop),
    ]
