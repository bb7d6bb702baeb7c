"""The client models' move to ``clients`` and the removal of the one-statement issuing path migrate both
ways, keeping every row, and leave no database object of the removed code behind. A key active for two
communities stops the migration that makes a key one partner's, naming them."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from clients.keys import public_key_parse
from clients.models import ClientKey, ClientSecret
from tests.conftest import make_community
from tests.keyfactory import private_key, public_pem

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("communities", "0006_entitlement_revision"),
    ("tokens", "0012_issue_token_function"),
    ("clients", None),
]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    ContentType.objects.clear_cache()


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _objects_of_the_removed_path() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname FROM pg_proc WHERE proname IN ('tokens_issue_if_entitled', "
            "'communities_community_revise', 'tokens_community_revise') "
            "UNION SELECT tgname FROM pg_trigger WHERE tgname LIKE %s "
            "UNION SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'communities_community' AND column_name = 'entitlement_revision'",
            ["%\\_revise"],
        )
        return {name for (name,) in cursor.fetchall()}


def test_backwards_and_forwards_again_keeps_the_secrets_and_the_permissions():
    created = make_community("migrated")
    secret_id = ClientSecret.objects.get(community=created.community).pk
    try:
        _migrate(BEFORE)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM tokens_clientsecret")
            assert [row[0] for row in cursor.fetchall()] == [secret_id]
        assert ContentType.objects.filter(app_label="tokens", model="clientsecret").exists()
        if connection.vendor == "postgresql":
            assert "tokens_issue_if_entitled" in _objects_of_the_removed_path()
            assert "entitlement_revision" in _objects_of_the_removed_path()
    finally:
        _migrate(_latest())
    assert ClientSecret.objects.get().pk == secret_id
    assert ContentType.objects.get_for_model(ClientSecret).app_label == "clients"
    assert not ContentType.objects.filter(app_label="tokens", model="clientsecret").exists()
    if connection.vendor == "postgresql":
        assert _objects_of_the_removed_path() == set()


def test_the_generated_per_query_functions_are_dropped(postgresql_only):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION bfluence_q_0123456789abcdef01234567(bigint) RETURNS int LANGUAGE sql AS 'SELECT 1'"
        )
    try:
        _migrate(BEFORE)
    finally:
        _migrate(_latest())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_proc WHERE starts_with(proname, 'bfluence_q_')")
        assert cursor.fetchone()[0] == 0


def test_a_key_active_for_two_communities_stops_the_one_partner_migration_until_retired():
    parsed = public_key_parse(public_pem(private_key("ES256", fresh=True)))
    held_as = {"kid": parsed.kid, "thumbprint": parsed.thumbprint, "key_type": "EC", "public_jwk": {}}
    before = [("clients", "0004_auth_policy_console_labels")]
    try:
        _migrate(before)
        for client_id in ("acme", "globex"):  # as the per-community constraint allowed
            ClientKey.objects.create(community=make_community(client_id).community, **held_as)
        with pytest.raises(RuntimeError, match="remove_client_key") as stopped:
            _migrate(_latest())
        assert f"{parsed.thumbprint}: acme " in str(stopped.value)
        assert f"{parsed.thumbprint}: globex " in str(stopped.value)
        ClientKey.objects.filter(community__client_id="globex").update(retired_at=timezone.now())
    finally:
        _migrate(_latest())
    assert ClientKey.objects.filter(retired_at__isnull=True).get().community.client_id == "acme"
