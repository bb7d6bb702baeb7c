"""Retiring a partner key revokes the tokens it obtained (SPEC §4 ``remove_client_key``): a leaked key
is one command away from being harmless, and ``--keep-tokens`` serves a planned retirement."""

import json
from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from clients.models import ClientKey
from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from tests.conftest import TEST_ACTOR, get_bflus, issue_token, make_community, post_form
from tests.keyfactory import ASSERTION_TYPE, assertion, private_key, public_jwk_json
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db
TOKEN_URL = "http://testserver/auth/token"


@pytest.fixture
def partner(db):
    """acme with two keys ("old" and "new") and its secret, all three able to get tokens."""
    created = make_community("acme", members={"123": 1500})
    keys = {}
    for kid in ("old", "new"):
        key = private_key("ES256", fresh=True)
        client_key_add(community=created.community, key_text=public_jwk_json(key, kid=kid), actor=TEST_ACTOR)
        keys[kid] = key
    client_auth_policy_set(
        community=created.community,
        change=PolicyChange(methods=["client_secret", "private_key_jwt"]),
        actor=TEST_ACTOR,
    )
    return Partner(created=created, old_key=keys["old"], new_key=keys["new"])


@dataclass
class Partner:
    created: object
    old_key: object
    new_key: object

    @property
    def client_secret(self) -> str:
        return self.created.client_secret

    @property
    def community(self):
        return self.created.community


def token_by_key(api, key, kid: str) -> str:
    signed = assertion(key, "acme", TOKEN_URL, headers={"kid": kid})
    response = post_form(
        api,
        "/auth/token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        },
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def run_json(*args) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_each_token_records_the_key_that_obtained_it(api, partner):
    token_by_key(api, partner.old_key, "old")
    issue_token(api, partner)
    by_key = IssuedToken.objects.exclude(client_key=None).get()
    assert by_key.client_key == ClientKey.objects.get(kid="old") and by_key.client_secret_id is None
    assert IssuedToken.objects.filter(client_key=None).exclude(client_secret=None).count() == 1


def test_remove_client_key_revokes_the_tokens_the_key_obtained(api, partner):
    retired = [token_by_key(api, partner.old_key, "old") for _ in range(2)]
    other_key = token_by_key(api, partner.new_key, "new")
    by_secret = issue_token(api, partner)

    body = run_json("remove_client_key", "acme", "--kid", "old", "--reason", "key leaked")

    assert body == {"client_id": "acme", "removed": "old", "tokens_revoked": 2}
    for token in retired:
        response = get_bflus(api, token)
        assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert get_bflus(api, other_key).status_code == 200
    assert get_bflus(api, by_secret).status_code == 200
    revoked = AuditEvent.objects.filter(event_type="token_revoked")
    assert revoked.count() == 2 and {event.details["reason"] for event in revoked} == {"key leaked"}


def test_keep_tokens_leaves_them_working_for_a_planned_retirement(api, partner):
    token = token_by_key(api, partner.old_key, "old")
    body = run_json("remove_client_key", "acme", "--kid", "old", "--keep-tokens")
    assert body == {"client_id": "acme", "removed": "old", "tokens_revoked": 0}
    assert get_bflus(api, token).status_code == 200
    # The key itself is retired either way.
    signed = assertion(partner.old_key, "acme", TOKEN_URL, headers={"kid": "old"})
    refused = post_form(
        api,
        "/auth/token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        },
    )
    assert refused.status_code == 401


def test_the_human_output_says_how_many(api, partner):
    token_by_key(api, partner.old_key, "old")
    out = StringIO()
    call_command("remove_client_key", "acme", "--kid", "old", "--lang", "en", stdout=out)
    assert "1 token revoked" in out.getvalue()
    out = StringIO()
    token_by_key(api, partner.new_key, "new")
    call_command("remove_client_key", "acme", "--kid", "new", "--lang", "pt-br", stdout=out)
    assert "1 token revogado" in out.getvalue()


def test_a_retired_key_revokes_nothing_of_another_community(api, partner):
    other = make_community("globex", members={"123": 5})
    token = issue_token(api, other)
    assert run_json("remove_client_key", "acme", "--kid", "new")["tokens_revoked"] == 0
    assert get_bflus(api, token).status_code == 200
