"""``Community.entitlement_revision`` goes: nothing reads it since tokens 0014 dropped its triggers."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0006_entitlement_revision"),
        ("tokens", "0014_drop_issuing_function_and_revision_triggers"),
    ]

    operations = [
        migrations.RemoveField(model_name="community", name="entitlement_revision"),
    ]
