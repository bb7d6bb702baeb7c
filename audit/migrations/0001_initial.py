"""The audit trail moves from `tokens` into its own app, at the bottom of the layers.

Only Django's idea of where the model lives changes: the table keeps its name (tokens_auditevent) and
every row stays where it is. The content type moves along, so staff permissions on it (the groups'
"view audit event") carry over.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
    if not content_types.filter(app_label="audit", model="auditevent").exists():
        content_types.filter(app_label="tokens", model="auditevent").update(app_label="audit")


def move_content_type_back(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
    if not content_types.filter(app_label="tokens", model="auditevent").exists():
        content_types.filter(app_label="audit", model="auditevent").update(app_label="tokens")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("communities", "0003_identifier_formats"),
        ("tokens", "0006_revocationrequest_secrets_suspended"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('occurred_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='occurred at')),
                        ('event_type', models.CharField(choices=[('token_issued', 'token issued'), ('client_auth_failed', 'client authentication failed'), ('token_revoked', 'token revoked'), ('tokens_revoked_all', 'all tokens revoked'), ('secret_created', 'secret created'), ('secret_rotated', 'secret rotated'), ('secret_expired', 'previous secret stopped'), ('community_created', 'community created'), ('community_updated', 'community updated'), ('community_deactivated', 'community deactivated'), ('community_reactivated', 'community reactivated'), ('revocation_request_opened', 'revocation request opened'), ('revocation_request_handled', 'revocation request handled'), ('member_balance_set', 'member balance set'), ('tokens_purged', 'expired token records purged'), ('client_key_added', 'client public key registered'), ('client_key_retired', 'client public key retired'), ('client_auth_policy_set', 'client authentication policy set'), ('api_call_refused', 'API call refused'), ('staff_signed_in', 'staff signed in'), ('staff_sign_in_failed', 'staff sign-in failed'), ('staff_locked_out', 'staff sign-in locked out')], db_index=True, max_length=40, verbose_name='event')),
                        ('actor_type', models.CharField(choices=[('staff', 'staff user'), ('partner', 'partner client'), ('command', 'management command'), ('anonymous', 'unauthenticated caller')], max_length=20, verbose_name='actor type')),
                        ('actor', models.CharField(max_length=200, verbose_name='actor')),
                        ('client_id', models.CharField(blank=True, db_index=True, max_length=100, verbose_name='client ID')),
                        ('jti', models.CharField(blank=True, max_length=64, verbose_name='token ID (jti)')),
                        ('source_ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='source IP')),
                        ('details', models.JSONField(blank=True, default=dict, verbose_name='details')),
                        ('community', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='audit_events', to='communities.community')),
                    ],
                    options={
                        'verbose_name': 'audit event',
                        'verbose_name_plural': 'audit trail',
                        'ordering': ['-occurred_at', '-id'],
                        'db_table': 'tokens_auditevent',
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
