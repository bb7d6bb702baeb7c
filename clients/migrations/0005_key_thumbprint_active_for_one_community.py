"""One key identifies one partner: a thumbprint active for one community at most, not one per community.

Keys registered before the service refused a key held elsewhere may share a thumbprint across
communities. Which community keeps such a key is staff's call, so the migration retires nothing: it stops
and names them, and `remove_client_key` settles each before it runs again.
"""

from django.db import migrations, models
from django.db.models import Count


def refuse_keys_active_for_two_communities(apps, schema_editor):
    ClientKey = apps.get_model("clients", "ClientKey")
    active = ClientKey.objects.filter(retired_at__isnull=True)
    shared = (
        active.values("thumbprint").annotate(holders=Count("id")).filter(holders__gt=1).values("thumbprint")
    )
    held = active.filter(thumbprint__in=shared).order_by("thumbprint", "community__client_id")
    if held.exists():
        lines = [f"  {key.thumbprint}: {key.community.client_id} (kid {key.kid})" for key in held]
        raise RuntimeError(
            "These public keys are active for more than one community; a key identifies one partner. "
            "Retire each where it does not belong (manage.py remove_client_key CLIENT_ID --kid=KID), "
            "then migrate again:\n" + "\n".join(lines)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0004_auth_policy_console_labels"),
    ]

    operations = [
        migrations.RunPython(refuse_keys_active_for_two_communities, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="clientkey",
            name="client_key_active_thumbprint_unique",
        ),
        migrations.AddConstraint(
            model_name="clientkey",
            constraint=models.UniqueConstraint(
                condition=models.Q(("retired_at__isnull", True)),
                fields=("thumbprint",),
                name="client_key_active_thumbprint_unique",
            ),
        ),
    ]
