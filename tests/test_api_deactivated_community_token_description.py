"""A token revoked because its community was deactivated (SPEC §4.1) keeps its 401 ``invalid_token``, but
does not invite the partner to request a new one at /auth/token: a new token is refused while the
community is deactivated."""

import pytest
from django.utils import timezone

from tests.conftest import TEST_ACTOR, get_bflus, make_community
from tokens.models import IssuedToken
from tokens.services import community_deactivate

pytestmark = pytest.mark.django_db

DEACTIVATED_DESCRIPTION = "O token de acesso foi revogado: a comunidade está desativada; fale com a Bfluence."
DEACTIVATED_CHALLENGE = (
    'Bearer realm="bfluence", error="invalid_token", '
    'error_description="The access token was revoked: the community is deactivated; contact Bfluence"'
)


@pytest.fixture
def acme(db):
    return make_community("acme", members={"123": 1500})


def _token(api, created) -> str:
    response = api.post(
        "/auth/token",
        {"client_id": created.community.client_id, "client_secret": created.client_secret},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_a_deactivated_communitys_token_does_not_invite_a_new_token(api, acme):
    token = _token(api, acme)
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    refused = get_bflus(api, token)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_token")
    assert refused.json()["error_description"] == DEACTIVATED_DESCRIPTION
    assert "/auth/token" not in refused.json()["error_description"]
    assert refused["WWW-Authenticate"] == DEACTIVATED_CHALLENGE


def test_in_english_too(api, acme):
    token = _token(api, acme)
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    refused = get_bflus(api, token, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.json()["error_description"] == (
        "The access token was revoked: the community is deactivated; contact Bfluence."
    )


def test_a_token_revoked_in_an_active_community_keeps_the_invitation(api, acme):
    token = _token(api, acme)
    IssuedToken.objects.update(revoked_at=timezone.now())
    refused = get_bflus(api, token)
    assert refused.json()["error_description"] == (
        "O token de acesso foi revogado: solicite um novo em /auth/token."
    )
