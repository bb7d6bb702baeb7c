"""Joins two migrations that landed side by side (labels in Portuguese; client_id unique ignoring case)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0004_client_id_unique_ignoring_case"),
        ("communities", "0004_labels_in_portuguese"),
    ]
    operations = []
