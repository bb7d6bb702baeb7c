"""The two reads behind client authentication (clients/selectors.py) answer what the ORM would, on SQLite
and on PostgreSQL: the secrets' digests newest first, and a credential's community, policy and last use,
or nothing once the credential or its community has ended."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clients.models import ClientKey, ClientSecret
from clients.selectors import credential_entitlement_get, secret_digests_newest
from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from communities.models import Community
from tests.conftest import TEST_ACTOR, make_community
from tests.keyfactory import private_key, public_jwk_json

pytestmark = pytest.mark.django_db


def _secret(created) -> ClientSecret:
    return ClientSecret.objects.get(community=created.community)


def test_the_digests_come_newest_first_and_none_for_an_unknown_client_id():
    created = make_community("reads")
    older = _secret(created)
    ClientSecret.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))
    newer = ClientSecret.objects.create(community=created.community, hint="h", salt="s" * 32, digest="d" * 64)

    assert secret_digests_newest(client_id="reads", count=2) == [
        (newer.pk, "s" * 32, "d" * 64),
        (older.pk, older.salt, older.digest),
    ]
    assert secret_digests_newest(client_id="reads", count=1) == [(newer.pk, "s" * 32, "d" * 64)]
    assert secret_digests_newest(client_id="READS", count=2) == []  # exact, as the client_id is matched


def test_a_secrets_entitlement_is_its_whole_community_its_policy_and_its_last_use():
    created = make_community("reads", permissions=("bflus:read",), token_lifetime=timedelta(minutes=5))
    client_auth_policy_set(
        community=created.community,
        change=PolicyChange(dpop="optional", allowed_ips=["192.0.2.0/24"], allowlist_applies_to_api=True),
        actor=TEST_ACTOR,
    )
    used = timezone.now() - timedelta(minutes=3)
    ending = timezone.now() + timedelta(hours=1)
    ClientSecret.objects.filter(community=created.community).update(last_used_at=used, valid_until=ending)

    entitled = credential_entitlement_get(secret_id=_secret(created).pk)

    assert entitled is not None
    stored = Community.objects.get(pk=created.community.pk)
    assert vars(entitled.community).keys() == vars(stored).keys()  # no column left over, none deferred
    assert {name: getattr(entitled.community, name) for name in ("client_id", "name", "is_active")} == {
        "client_id": "reads",
        "name": stored.name,
        "is_active": True,
    }
    assert entitled.community.permissions == ["bflus:read"]
    assert entitled.community.token_lifetime == timedelta(minutes=5)
    assert entitled.community.created_at == stored.created_at and entitled.community.created_at.tzinfo
    assert entitled.last_used_at == used
    assert entitled.policy.dpop == "optional"
    assert entitled.policy.allowed_ips == ("192.0.2.0/24",)
    assert entitled.policy.allowlist_applies_to_api is True
    assert entitled.policy.methods == ["client_secret"]


def test_without_a_policy_row_the_defaults_apply():
    created = make_community("reads")
    entitled = credential_entitlement_get(secret_id=_secret(created).pk)
    assert entitled is not None
    assert entitled.policy.methods == ["client_secret"] and entitled.policy.dpop == "off"
    assert entitled.policy.allowed_ips == () and entitled.last_used_at is None


@pytest.mark.parametrize(
    "ended",
    [
        lambda secret: ClientSecret.objects.filter(pk=secret.pk).update(valid_until=timezone.now()),
        lambda secret: Community.objects.filter(pk=secret.community_id).update(is_active=False),
    ],
    ids=["grace window over", "community inactive"],
)
def test_an_ended_secret_or_an_inactive_community_entitles_nothing(ended):
    secret = _secret(make_community("reads"))
    ended(secret)
    assert credential_entitlement_get(secret_id=secret.pk) is None


def test_a_keys_entitlement_ends_when_the_key_is_retired():
    created = make_community("reads")
    key = client_key_add(
        community=created.community, key_text=public_jwk_json(private_key()), actor=TEST_ACTOR
    )

    entitled = credential_entitlement_get(key_id=key.pk)
    assert entitled is not None and entitled.community.pk == created.community.pk

    ClientKey.objects.filter(pk=key.pk).update(retired_at=timezone.now())
    assert credential_entitlement_get(key_id=key.pk) is None
    assert credential_entitlement_get() is None
