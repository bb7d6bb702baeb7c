"""A plain Bearer token refused only because its community now requires DPoP (SPEC §4.1) keeps its 401
``invalid_token`` under the Bearer challenge it had, but says why — only when the token is otherwise
good: a forged, expired, revoked or inactive community's token keeps the description it had. A token
the allowlist refuses too keeps the plain text (see test_api_allowlist_refusal_description.py)."""

from datetime import timedelta

import jwt
import pytest
import time_machine
from django.utils import timezone

from clients.services import PolicyChange, client_auth_policy_set
from communities.models import Community
from tests.conftest import TEST_ACTOR, get_bflus, make_community
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db

DPOP_REQUIRED_DESCRIPTION = (
    "O token de acesso foi emitido sem DPoP, e a comunidade agora exige DPoP: peça um novo token com uma "
    "prova DPoP."
)
DPOP_REQUIRED_CHALLENGE = (
    'Bearer realm="bfluence", error="invalid_token", '
    'error_description="The access token was issued without DPoP, and the community now requires DPoP: '
    'request a new token with a DPoP proof"'
)
INVALID_CHALLENGE = (
    'Bearer realm="bfluence", error="invalid_token", error_description="The access token is invalid"'
)


@pytest.fixture
def acme(db):
    return make_community("acme", members={"123": 1500})


def _bearer_token(api, created) -> str:
    response = api.post(
        "/auth/token",
        {"client_id": created.community.client_id, "client_secret": created.client_secret},
        format="json",
    )
    assert response.status_code == 200 and response.json()["token_type"] == "Bearer", response.content
    return response.json()["access_token"]


def _require_dpop(created) -> None:
    client_auth_policy_set(
        community=created.community, actor=TEST_ACTOR, change=PolicyChange(dpop="required")
    )


def test_a_valid_bearer_token_refused_because_dpop_is_now_required_is_told_why(api, acme):
    token = _bearer_token(api, acme)
    assert get_bflus(api, token).status_code == 200
    _require_dpop(acme)
    refused = get_bflus(api, token)
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid_token", "error_description": DPOP_REQUIRED_DESCRIPTION}
    assert refused["WWW-Authenticate"] == DPOP_REQUIRED_CHALLENGE


def test_the_dpop_reason_is_said_in_english_too(api, acme):
    token = _bearer_token(api, acme)
    _require_dpop(acme)
    refused = get_bflus(api, token, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "invalid_token",
        "error_description": (
            "The access token was issued without DPoP, and the community now requires DPoP: request a new "
            "token with a DPoP proof."
        ),
    }
    assert refused["WWW-Authenticate"] == DPOP_REQUIRED_CHALLENGE


def test_a_forged_token_keeps_the_plain_invalid_description(api, acme):
    token = _bearer_token(api, acme)
    _require_dpop(acme)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-server-key-" * 3, algorithm="HS256", headers={"typ": "at+jwt"})
    refused = get_bflus(api, forged)
    assert (refused.status_code, refused.json()["error_description"]) == (
        401,
        "O token de acesso é inválido.",
    )
    assert refused["WWW-Authenticate"] == INVALID_CHALLENGE


def test_a_revoked_token_keeps_the_revoked_description(api, acme):
    token = _bearer_token(api, acme)
    _require_dpop(acme)
    IssuedToken.objects.update(revoked_at=timezone.now())
    refused = get_bflus(api, token)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_token")
    assert refused.json()["error_description"] == (
        "O token de acesso foi revogado: solicite um novo em /auth/token."
    )
    assert 'error_description="The access token was revoked"' in refused["WWW-Authenticate"]


def test_an_expired_token_keeps_the_expired_description(api, acme):
    token = _bearer_token(api, acme)
    _require_dpop(acme)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        refused = get_bflus(api, token)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_token")
    assert (
        refused.json()["error_description"] == "O token de acesso expirou: solicite um novo em /auth/token."
    )
    assert 'error_description="The access token expired"' in refused["WWW-Authenticate"]


def test_an_inactive_communitys_token_keeps_the_plain_invalid_description(api, acme):
    token = _bearer_token(api, acme)
    _require_dpop(acme)
    Community.objects.filter(pk=acme.community.pk).update(is_active=False)
    refused = get_bflus(api, token)
    assert (refused.status_code, refused.json()["error_description"]) == (
        401,
        "O token de acesso é inválido.",
    )
    assert refused["WWW-Authenticate"] == INVALID_CHALLENGE
