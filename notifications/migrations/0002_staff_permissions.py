"""Staff roles for notifications (SPEC §5a): support reads contacts and notifications and may send one
again; security also sets the contacts (and so the webhook and its signing secret)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT = [
    "notifications.view_notification",
    "notifications.resend_notification",
    "notifications.view_securitycontacts",
]
SECURITY = ["notifications.add_securitycontacts", "notifications.change_securitycontacts"]
GRANTS = {"support": SUPPORT, "security": SUPPORT + SECURITY}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in GRANTS.items():
        group, _created = Group.objects.get_or_create(name=name)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = [code.split(".")[1] for code in SUPPORT + SECURITY]
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="notifications", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_security_contacts_and_outbox"),
        ("tokens", "0003_staff_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
