"""The client-credential models now live in the ``clients`` app (clients/migrations/0001_initial.py):
forget them here and point the token record at ``clients.ClientSecret``; the tables stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("clients", "0001_initial"),
        ("tokens", "0012_issue_token_function"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="issuedtoken",
                    name="client_secret",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="issued_tokens",
                        to="clients.clientsecret",
                        verbose_name="client secret",
                    ),
                ),
                migrations.DeleteModel(name="UsedJti"),
                migrations.DeleteModel(name="ClientAuthPolicy"),
                migrations.DeleteModel(name="ClientKey"),
                migrations.DeleteModel(name="ClientSecret"),
            ],
            database_operations=[],
        ),
    ]
