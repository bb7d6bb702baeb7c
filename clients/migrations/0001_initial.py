"""Client credentials move from ``tokens`` into their own app, ``clients`` ("who is calling").

Only Django's idea of where the models live changes: the tables keep their names (tokens_clientsecret,
tokens_clientkey, tokens_clientauthpolicy, tokens_usedjti) and no row moves. The content types move along,
so staff permissions on them (the groups' "add client key", …) carry over.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MODELS = ("clientsecret", "clientkey", "clientauthpolicy", "usedjti")


def _move_content_types(source, target):
    def run(apps, schema_editor):
        content_types = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
        for model in MODELS:
            if not content_types.filter(app_label=target, model=model).exists():
                content_types.filter(app_label=source, model=model).update(app_label=target)

    return run


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("communities", "0006_entitlement_revision"),
        ("tokens", "0012_issue_token_function"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='UsedJti',
                    fields=[
                        ('key', models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ('expires_at', models.DateTimeField(db_index=True)),
                    ],
                    options={
                        'verbose_name': 'used jti',
                        'verbose_name_plural': 'used jtis',
                        'db_table': 'tokens_usedjti',
                    },
                ),
                migrations.CreateModel(
                    name='ClientAuthPolicy',
                    fields=[
                        ('community', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='auth_policy', serialize=False, to='communities.community')),
                        ('allow_client_secret', models.BooleanField(default=True, verbose_name='client_secret allowed')),
                        ('allow_private_key_jwt', models.BooleanField(default=False, verbose_name='private_key_jwt allowed')),
                        ('dpop', models.CharField(choices=[('off', 'off'), ('optional', 'optional'), ('required', 'required')], default='off', max_length=10, verbose_name='DPoP')),
                        ('allowed_ips', models.JSONField(blank=True, default=list, verbose_name='allowed source IPs')),
                        ('allowlist_applies_to_api', models.BooleanField(default=False, verbose_name='allowlist also for API calls')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                    ],
                    options={
                        'verbose_name': 'client authentication policy',
                        'verbose_name_plural': 'client authentication policies',
                        'db_table': 'tokens_clientauthpolicy',
                        'constraints': [models.CheckConstraint(condition=models.Q(('allow_client_secret', True), ('allow_private_key_jwt', True), _connector='OR'), name='auth_policy_allows_some_method')],
                    },
                ),
                migrations.CreateModel(
                    name='ClientKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kid', models.CharField(max_length=100, verbose_name='key ID (kid)')),
                        ('thumbprint', models.CharField(max_length=64, verbose_name='thumbprint (RFC 7638)')),
                        ('key_type', models.CharField(max_length=20, verbose_name='key type')),
                        ('public_jwk', models.JSONField(verbose_name='public key (JWK)')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                        ('last_used_at', models.DateTimeField(blank=True, null=True, verbose_name='last used at')),
                        ('retired_at', models.DateTimeField(blank=True, null=True, verbose_name='retired at')),
                        ('community', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='client_keys', to='communities.community')),
                    ],
                    options={
                        'verbose_name': 'client public key',
                        'verbose_name_plural': 'client public keys',
                        'db_table': 'tokens_clientkey',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['community', 'retired_at'], name='client_key_community_active')],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('retired_at__isnull', True)), fields=('community', 'kid'), name='client_key_active_kid_unique'), models.UniqueConstraint(condition=models.Q(('retired_at__isnull', True)), fields=('community', 'thumbprint'), name='client_key_active_thumbprint_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='ClientSecret',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('hint', models.CharField(max_length=32, verbose_name='hint')),
                        ('salt', models.CharField(max_length=32)),
                        ('digest', models.CharField(max_length=64)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                        ('valid_until', models.DateTimeField(blank=True, null=True, verbose_name='valid until')),
                        ('last_used_at', models.DateTimeField(blank=True, null=True, verbose_name='last used at')),
                        ('community', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='secrets', to='communities.community', verbose_name='community')),
                    ],
                    options={
                        'verbose_name': 'client secret',
                        'verbose_name_plural': 'client secrets',
                        'db_table': 'tokens_clientsecret',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['community', 'valid_until'], name='secret_community_validity')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(_move_content_types("tokens", "clients"), _move_content_types("clients", "tokens")),
    ]
