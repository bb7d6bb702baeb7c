"""A fresh-eyes review of the console (pt-BR), through Django's test client: what ending or rotating a
secret says of the tokens already issued, and of the grace window, is true for the community's state. A
policy that requires DPoP already refuses its Bearer tokens, a deactivated community every token, and
under a keys-only policy (or a deactivated community) the old secret gets no token during its grace."""

import pytest

from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR
from tests.test_admin import submit_once, url
from tests.test_console_dpop_and_request_truths import _keys_only_request_with_a_key_token, _token
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_policy_refused_tokens_and_reader_wording import (
    _require_dpop,
    _two_bearer_tokens_and_one_bound_then_dpop_required,
)
from tests.test_console_review_followups import _with_key
from tests.test_console_safety import login
from tokens.models import IssuedToken
from tokens.services import community_deactivate

pytestmark = pytest.mark.django_db
STILL_VALID = "tokens já emitidos continuam válidos"  # the stop page's usual consequence
KEEP_WORKING = "Os tokens já emitidos continuam valendo até expirar"  # the rotate page's, with no grace
OLD_SECRET_STILL_GETS_TOKENS = "quem tem o segredo antigo ainda consegue tokens novos até ela acabar"


def _rotated_with_grace(client, created) -> None:
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", created.community.pk)
    submit_once(client, page, {"grace": "24h", "reason": "routine"})


def _stop_previous_consequence(client, created) -> str:
    page = client.get(url("communities_community_stop_previous_secret", created.community.pk))
    assert page.status_code == 200
    return _text(page.content.decode().split('id="confirm-question">', 1)[1].split("</div>", 1)[0])


def _rotate_page(client, created) -> str:
    page = client.get(url("communities_community_rotate_secret", created.community.pk))
    assert page.status_code == 200
    return _text(page.content.decode())


# --- 1. ending the old secret: the tokens already issued, as the API takes them -----------------------


def test_ending_the_old_secret_with_no_refused_token_keeps_the_usual_words(client, acme):
    _rotated_with_grace(client, acme)
    _token(acme.community, jti="bearer-one")
    assert STILL_VALID in _stop_previous_consequence(client, acme)


def test_ending_the_old_secret_under_required_dpop_says_the_bearer_token_is_already_refused(client, acme):
    _rotated_with_grace(client, acme)
    _token(acme.community, jti="bearer-one")
    _require_dpop(acme.community)
    said = _stop_previous_consequence(client, acme)
    assert STILL_VALID not in said and "continuam valendo" not in said
    assert "é recusado pela API (DPoP obrigatório): nenhum token funciona agora" in said
    assert "pedidos do parceiro com o segredo antigo falham" in said


def test_ending_the_old_secret_counts_the_refused_tokens_apart_from_the_working_ones(client, acme):
    _rotated_with_grace(client, acme)
    _two_bearer_tokens_and_one_bound_then_dpop_required(acme.community)
    said = _stop_previous_consequence(client, acme)
    assert STILL_VALID not in said
    assert "1 token já emitido continua valendo até expirar." in said
    assert "Outros 2 tokens já são recusados pela API (DPoP obrigatório)." in said


def test_ending_the_old_secret_of_a_deactivated_community_says_every_token_is_refused(client, acme):
    _rotated_with_grace(client, acme)
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    said = _stop_previous_consequence(client, acme)
    assert STILL_VALID not in said
    assert "A comunidade está desativada: a API recusa todo token até que ela seja reativada" in said


def test_ending_the_old_secret_counts_a_token_issued_outside_the_api_allowlist_as_still_valid(client, acme):
    _rotated_with_grace(client, acme)
    inside = _token(acme.community, jti="inside")
    outside = _token(acme.community, jti="outside")
    IssuedToken.objects.filter(pk=inside.pk).update(source_ip="192.0.2.10")
    IssuedToken.objects.filter(pk=outside.pk).update(source_ip="198.51.100.7")
    change = PolicyChange(allowed_ips=["192.0.2.0/24"], allowlist_applies_to_api=True)
    client_auth_policy_set(community=acme.community, change=change, actor=TEST_ACTOR)
    said = _stop_previous_consequence(client, acme)
    assert STILL_VALID in said  # the usual words: the allowlist refuses calls from outside, not tokens
    assert "recusado pela API" not in said and "fora da lista de IPs permitidos" not in said


# --- 2. rotating with no grace to give (a pending request): the same truth on the revoke box ----------


def test_rotating_during_a_request_under_required_dpop_does_not_say_the_tokens_keep_working(client, acme):
    _keys_only_request_with_a_key_token(acme)  # a Bearer token obtained with the key, after opening
    _require_dpop(acme.community)
    login(client, "sue", "security")
    page = _rotate_page(client, acme)
    assert KEEP_WORKING not in page
    assert "é recusado pela API (DPoP obrigatório): nenhum token funciona agora" in page


def test_rotating_during_a_request_with_working_tokens_keeps_the_usual_words(client, acme):
    _keys_only_request_with_a_key_token(acme)
    login(client, "sue", "security")
    assert KEEP_WORKING in _rotate_page(client, acme)


# --- 3. the grace window's help when no secret works now ----------------------------------------------


def test_rotating_with_a_working_secret_keeps_the_usual_grace_help(client, acme):
    login(client, "sue", "security")
    assert OLD_SECRET_STILL_GETS_TOKENS in _rotate_page(client, acme)


def test_rotating_under_a_keys_only_policy_does_not_say_the_old_secret_still_gets_tokens(client, acme):
    _with_key(acme)
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(methods=["private_key_jwt"]), actor=TEST_ACTOR
    )
    login(client, "sue", "security")
    page = _rotate_page(client, acme)
    assert OLD_SECRET_STILL_GETS_TOKENS not in page
    assert "só importa se a política voltar a aceitar segredos antes de ela acabar" in page
    assert "Se o segredo vazou, escolha “Nenhuma”." in page


def test_rotating_for_a_deactivated_community_does_not_say_the_old_secret_still_gets_tokens(client, acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    page = _rotate_page(client, acme)
    assert OLD_SECRET_STILL_GETS_TOKENS not in page
    assert "só importa se a comunidade for reativada antes de a janela acabar" in page
