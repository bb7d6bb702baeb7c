"""Staff roles for stronger client authentication: support reads keys and policies; security also
registers and retires keys and sets policies (SPEC §5a)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT = ["tokens.view_clientkey", "tokens.view_clientauthpolicy"]
SECURITY = [
    "tokens.add_clientkey",
    "tokens.change_clientkey",
    "tokens.add_clientauthpolicy",
    "tokens.change_clientauthpolicy",
]
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
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = [code.split(".")[1] for code in SUPPORT + SECURITY]
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="tokens", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0008_labels_in_portuguese"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
