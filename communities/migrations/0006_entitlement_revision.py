"""``Community.entitlement_revision``: set by PostgreSQL triggers (tokens 0010); 0 on SQLite."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0005_one_leaf"),
    ]

    operations = [
        migrations.AddField(
            model_name="community",
            name="entitlement_revision",
            field=models.BigIntegerField(
                db_default=0, default=0, editable=False, verbose_name="entitlement revision"
            ),
        ),
    ]
