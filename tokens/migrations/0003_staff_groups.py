"""The two ready-made staff roles. Support: see everything, revoke tokens, handle revocation requests.
Security: also onboard, edit and deactivate communities, rotate secrets and edit balances."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT = [
    "communities.view_community", "communities.view_member",
    "communities.revoke_community_tokens",
    "tokens.view_issuedtoken", "tokens.revoke_issuedtoken",
    "tokens.view_auditevent",
    "tokens.view_revocationrequest", "tokens.add_revocationrequest", "tokens.handle_revocationrequest",
]
SECURITY = SUPPORT + [
    "communities.add_community", "communities.change_community",
    "communities.rotate_secret", "communities.deactivate_community",
    "communities.add_member", "communities.change_member",
]
GROUPS = {"support": SUPPORT, "security": SECURITY}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; these groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in GROUPS.items():
        group, _created = Group.objects.get_or_create(name=name)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("communities", "0002_staff_permissions"),
        ("tokens", "0002_staff_permissions"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
