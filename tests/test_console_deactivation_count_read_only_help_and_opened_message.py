"""Slips a fresh-eyes review of the pt-BR console found: the deactivation message counts the revoked
tokens and lets the community's name stand alone; read-only pages show no editing help; support's
"request opened" message has its article and names who can complete the request."""

import pytest

from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR, issue_token
from tests.test_admin import url
from tests.test_console_keys_and_lockout_causes import _with_key
from tests.test_console_refusals_name_who_else_can import _member, _messages, _open_in_console
from tests.test_console_safety import login
from tokens.models import RevocationRequest

pytestmark = pytest.mark.django_db


def _deactivate(client, community):
    return client.post(
        url("communities_community_deactivate", community.pk), {"reason": "contract ended"}, follow=True
    )


# --- 1. the deactivation message -----------------------------------------------------------------------


def test_the_deactivation_message_counts_the_revoked_token(client, api, acme):
    issue_token(api, acme)
    login(client, "sue", "security")
    said = _messages(_deactivate(client, acme.community))
    assert "acme community (acme) desativada: 1 token revogado." in said
    assert "A comunidade" not in said


def test_the_deactivation_message_counts_the_revoked_tokens(client, api, acme):
    issue_token(api, acme)
    issue_token(api, acme)
    login(client, "sue", "security")
    assert "acme community (acme) desativada: 2 tokens revogados." in _messages(
        _deactivate(client, acme.community)
    )


def test_the_deactivation_message_says_when_no_token_was_revoked(client, acme):
    login(client, "sue", "security")
    said = _messages(_deactivate(client, acme.community))
    assert "acme community (acme) desativada: nenhum token a revogar." in said


# --- 2. read-only pages show no editing help -------------------------------------------------------------


def test_support_sees_no_editing_help_on_the_community_page(client, acme):
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", acme.community.pk))
    assert page.status_code == 200
    assert "Menor que o padrão" not in page.content.decode()


def test_security_still_sees_the_editing_help_on_the_community_page(client, acme):
    login(client, "sue", "security")
    page = client.get(url("communities_community_change", acme.community.pk))
    assert "Menor que o padrão" in page.content.decode()


# --- 3. support's "request opened" message -------------------------------------------------------------


def test_supports_request_opened_message_has_its_article_and_names_who_can_complete_it(client, acme):
    _member("sec1", "Ana")
    _member("sec2", "Bruno")
    login(client, "sam", "support")
    said = _messages(_open_in_console(client, acme.community))
    number = RevocationRequest.objects.get().pk
    assert f"O pedido #{number} de acme foi aberto:" in said
    assert "até que um membro do grupo de segurança (Ana e Bruno) conclua o pedido" in said
    assert "até que alguém do grupo de segurança conclua" not in said


def test_supports_request_opened_message_says_to_ask_a_superuser_with_no_security_member(client, acme):
    login(client, "sam", "support")
    said = _messages(_open_in_console(client, acme.community))
    assert "foi aberto:" in said and "superusuário" in said
    assert "até que alguém do grupo de segurança conclua" not in said


def test_support_sees_no_editing_help_on_any_read_only_page(client, api, acme):
    issue_token(api, acme)
    key = _with_key(acme)
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(methods=["private_key_jwt"]), actor=TEST_ACTOR
    )
    login(client, "sam", "support")
    _open_in_console(client, acme.community)
    pages = [
        url("communities_community_change", acme.community.pk),
        url("clients_clientkey_change", key.pk),
        url("clients_clientauthpolicy_change", acme.community.auth_policy.pk),
        url("tokens_issuedtoken_change", acme.community.issued_tokens.get().pk),
        url("tokens_revocationrequest_change", RevocationRequest.objects.get().pk),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert 'class="help"' not in response.content.decode(), page
