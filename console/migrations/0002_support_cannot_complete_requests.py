"""Completing a revocation request creates a secret: only the security group may do it (SPEC §5a)."""

from django.db import migrations


def withdraw(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    handle = Permission.objects.filter(content_type__app_label="tokens", codename="handle_revocationrequest")
    for group in Group.objects.filter(name="support"):
        group.permissions.remove(*handle)


def give_back(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    handle = Permission.objects.filter(content_type__app_label="tokens", codename="handle_revocationrequest")
    for group in Group.objects.filter(name="support"):
        group.permissions.add(*handle)


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_form_submission"),
        ("tokens", "0003_staff_groups"),
    ]
    operations = [migrations.RunPython(withdraw, give_back)]
