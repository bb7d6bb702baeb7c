"""Revocation works for every token that would still be accepted, also inside ``JWT_LEEWAY`` past ``exp``."""

import io
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from django.core.management import call_command

from bfluence.conf import app_settings
from tests.conftest import TEST_ACTOR, get_bflus, issue_token, make_community
from tokens.models import IssuedToken
from tokens.services import tokens_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def short_lived(db):
    """A community whose tokens live one minute, so "past exp" is one minute ahead."""
    return make_community("shorty", members={"123": 7}, token_lifetime=timedelta(minutes=1))


def inside_the_leeway(token: str):
    """A moment past the token's ``exp`` at which the token is still accepted."""
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    leeway = app_settings().leeway_seconds
    assert leeway >= 2
    return time_machine.travel(datetime.fromtimestamp(exp + leeway // 2, tz=UTC), tick=False)


def test_partner_revokes_a_token_inside_the_leeway(api, short_lived):
    token = issue_token(api, short_lived)
    with inside_the_leeway(token):
        assert get_bflus(api, token).status_code == 200  # still accepted...
        response = api.post(
            "/auth/revoke",
            {"client_id": "shorty", "client_secret": short_lived.client_secret, "token": token},
            format="json",
        )
        assert response.status_code == 200
        assert get_bflus(api, token).status_code == 401  # ...so revoking it must hold


def test_revoke_all_catches_tokens_inside_the_leeway(api, short_lived):
    token = issue_token(api, short_lived)
    with inside_the_leeway(token):
        out = io.StringIO()
        call_command("revoke_tokens", "shorty", "--all", "--json", stdout=out)
        assert '"revoked": 1' in out.getvalue()
        assert IssuedToken.objects.get().revoked_at is not None
        assert get_bflus(api, token).status_code == 401


def test_revoke_by_jti_inside_the_leeway_is_recorded(api, short_lived):
    token = issue_token(api, short_lived)
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with inside_the_leeway(token):
        assert tokens_revoke(community=short_lived.community, jtis=[jti], actor=TEST_ACTOR, reason="x") == 1
        assert get_bflus(api, token).status_code == 401


def test_tokens_past_the_leeway_are_left_as_expired(api, short_lived):
    token = issue_token(api, short_lived)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    later = datetime.fromtimestamp(exp + app_settings().leeway_seconds + 5, tz=UTC)
    with time_machine.travel(later, tick=False):
        assert get_bflus(api, token).status_code == 401
        call_command("revoke_tokens", "shorty", "--all", stdout=io.StringIO())
    assert IssuedToken.objects.get().revoked_at is None  # nothing to revoke: it expired on its own
